/*
 * S3's canned ACLs and the grants each one stands for, as S3 documents them and lists them back in
 * GetObjectAcl / GetBucketAcl: the owner always gets FULL_CONTROL; `public-read` adds AllUsers READ,
 * `authenticated-read` AuthenticatedUsers READ, `aws-exec-read` READ for EC2's canonical user
 * (`za-team`) so EC2 can fetch an AMI bundle, `bucket-owner-read` / `-full-control` the bucket owner.
 * A front may accept other names as aliases (a Eucalyptus Walrus takes `ec2-bundle-read` for
 * `aws-exec-read`); S3 refuses them with InvalidArgument.
 */
import { EC2_ACCOUNT, type S3Account } from './credentials.js';
import { s3Errors, xmlEscape } from './s3-error.js';

export type Permission = 'FULL_CONTROL' | 'READ' | 'WRITE' | 'READ_ACP' | 'WRITE_ACP';
export type Grantee = { type: 'CanonicalUser'; id: string; displayName: string } | { type: 'Group'; uri: string };
export interface Grant {
  grantee: Grantee;
  permission: Permission;
}

export const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
export const AUTHENTICATED_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';
export const LOG_DELIVERY = 'http://acs.amazonaws.com/groups/s3/LogDelivery';

export const OBJECT_CANNED_ACLS = [
  'private',
  'public-read',
  'public-read-write',
  'aws-exec-read',
  'authenticated-read',
  'bucket-owner-read',
  'bucket-owner-full-control',
] as const;
export const BUCKET_CANNED_ACLS = ['private', 'public-read', 'public-read-write', 'aws-exec-read', 'authenticated-read', 'log-delivery-write'] as const;
export type CannedAcl = (typeof OBJECT_CANNED_ACLS)[number] | (typeof BUCKET_CANNED_ACLS)[number];

const user = (account: S3Account): Grantee => ({ type: 'CanonicalUser', id: account.canonicalId, displayName: account.name });
const group = (uri: string): Grantee => ({ type: 'Group', uri });

/** The grants of a canned ACL on a resource owned by `owner` in a bucket owned by `bucketOwner`. */
export function cannedGrants(acl: CannedAcl, owner: S3Account, bucketOwner: S3Account): Grant[] {
  const grants: Grant[] = [{ grantee: user(owner), permission: 'FULL_CONTROL' }];
  const add = (grantee: Grantee, permission: Permission): void => void grants.push({ grantee, permission });
  switch (acl) {
    case 'private':
      break;
    case 'public-read':
      add(group(ALL_USERS), 'READ');
      break;
    case 'public-read-write':
      add(group(ALL_USERS), 'READ');
      add(group(ALL_USERS), 'WRITE');
      break;
    case 'aws-exec-read':
      add(user(EC2_ACCOUNT), 'READ');
      break;
    case 'authenticated-read':
      add(group(AUTHENTICATED_USERS), 'READ');
      break;
    case 'bucket-owner-read':
      if (bucketOwner.canonicalId !== owner.canonicalId) add(user(bucketOwner), 'READ');
      break;
    case 'bucket-owner-full-control':
      if (bucketOwner.canonicalId !== owner.canonicalId) add(user(bucketOwner), 'FULL_CONTROL');
      break;
    case 'log-delivery-write':
      add(group(LOG_DELIVERY), 'WRITE');
      add(group(LOG_DELIVERY), 'READ_ACP');
      break;
  }
  return grants;
}

/**
 * The canned ACL an `x-amz-acl` value names for an object or a bucket (aliases resolved); undefined
 * when none was sent. An unknown name is refused as S3 refuses it.
 */
export function cannedAclOf(value: string | undefined, target: 'object' | 'bucket', aliases: Readonly<Record<string, CannedAcl>>): CannedAcl | undefined {
  if (value === undefined) return undefined;
  const name = value.trim();
  const known: readonly string[] = target === 'object' ? OBJECT_CANNED_ACLS : BUCKET_CANNED_ACLS;
  if (known.includes(name)) return name as CannedAcl;
  const alias = aliases[name];
  if (alias !== undefined) return alias;
  throw s3Errors.invalidArgument(`${JSON.stringify(name)} is not a canned ACL S3 accepts`, 'x-amz-acl', name);
}

/** Whether the grants give `principal` (undefined: anonymous) the permission. */
export function granted(grants: readonly Grant[], principal: S3Account | undefined, permission: Exclude<Permission, 'FULL_CONTROL'>): boolean {
  return grants.some((g) => {
    if (g.permission !== permission && g.permission !== 'FULL_CONTROL') return false;
    if (g.grantee.type === 'Group') return g.grantee.uri === ALL_USERS || (g.grantee.uri === AUTHENTICATED_USERS && principal !== undefined);
    return g.grantee.id === principal?.canonicalId;
  });
}

/** GetObjectAcl / GetBucketAcl's answer. */
export function accessControlPolicyXml(owner: S3Account, grants: readonly Grant[]): string {
  const grantee = (g: Grantee): string =>
    g.type === 'CanonicalUser'
      ? `<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>${g.id}</ID><DisplayName>${xmlEscape(g.displayName)}</DisplayName></Grantee>`
      : `<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>${g.uri}</URI></Grantee>`;
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    `<Owner><ID>${owner.canonicalId}</ID><DisplayName>${xmlEscape(owner.name)}</DisplayName></Owner>` +
    `<AccessControlList>${grants.map((g) => `<Grant>${grantee(g.grantee)}<Permission>${g.permission}</Permission></Grant>`).join('')}</AccessControlList>` +
    '</AccessControlPolicy>'
  );
}
