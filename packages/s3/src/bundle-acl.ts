import type { ObjectCannedACL } from '@aws-sdk/client-s3';
import { InvalidOptionError } from '@bundlefarm/errors';

/**
 * Canned ACLs a bundle's objects may carry. EC2 reads instance-store bundles through the grant that
 * `aws-exec-read` adds (owner FULL_CONTROL, EC2 READ) — ec2-upload-bundle's default and ours.
 * `public-read` is ec2-upload-bundle's other choice; `ec2-bundle-read` is Eucalyptus' (Walrus) name
 * for the same grant, accepted by euca2ools.
 */
export type S3BundleAcl = 'aws-exec-read' | 'public-read' | 'ec2-bundle-read';

export const DEFAULT_BUNDLE_ACL: S3BundleAcl = 'aws-exec-read';
export const BUNDLE_ACLS: readonly S3BundleAcl[] = ['aws-exec-read', 'public-read', 'ec2-bundle-read'];

export function checkBundleAcl(acl: string | undefined): S3BundleAcl {
  if (acl === undefined) return DEFAULT_BUNDLE_ACL;
  if (!(BUNDLE_ACLS as readonly string[]).includes(acl)) {
    throw new InvalidOptionError('S3 ACL', `${JSON.stringify(acl)} is not one of ${BUNDLE_ACLS.join(', ')}`);
  }
  return acl as S3BundleAcl;
}

/** The SDK's type lists only AWS's canned ACLs; `ec2-bundle-read` is sent as the same header all the same. */
export function sdkAcl(acl: S3BundleAcl): ObjectCannedACL {
  return acl as ObjectCannedACL;
}
