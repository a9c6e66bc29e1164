/*
 * Before any byte of a bundle goes to a bucket: does the bundle fit the bucket's region? Two checks, each
 * with the way out in the error (ec2-migrate-manifest's job, `bundlefarm migrate-manifest`):
 *
 * - the bucket is in the region the user said (`--region`): an AMI is registered in the region of its
 *   bucket, and kernel/ramdisk ids are per region;
 * - the manifest's EC2 key and IV can be wrapped for the EC2 certificate of the bucket's partition
 *   (see ec2WrapFits: certain for China against the rest, partial between standard and GovCloud).
 *
 * Regions bundlefarm knows no certificate for (S3-compatible stores' own names) skip the second check.
 */
import { BundleRegionMismatchError } from '@bundlefarm/errors';
import { ec2CertificateForRegion, ec2WrapFits, type BundleManifest, type CertificateMaterial } from '@bundlefarm/format';

export interface BundleRegionFacts {
  bucket: string;
  /** The bucket's region (GetBucketLocation); undefined when the store cannot tell: nothing is checked. */
  bucketRegion: string | undefined;
  /** `--region` as given; undefined: the bucket's region is taken as meant. */
  requestedRegion: string | undefined;
  manifest: BundleManifest;
  /** How the manifest is named in the hint (its path). */
  manifestPath: string;
  /** The EC2 certificate the user said the bundle is for (`--ec2cert`); default: the bucket region's partition's. */
  ec2Certificate?: CertificateMaterial;
}

export function checkBundleRegion(f: BundleRegionFacts): void {
  if (f.bucketRegion === undefined) return;
  const migrate = `run \`bundlefarm migrate-manifest -m ${f.manifestPath} -k KEY -c CERT --region ${f.bucketRegion}\` (new --kernel/--ramdisk ids of ${f.bucketRegion} too, if the image uses them) and upload its output`;
  if (f.requestedRegion !== undefined && f.requestedRegion !== f.bucketRegion) {
    throw new BundleRegionMismatchError(
      f.bucket,
      f.bucketRegion,
      `not in ${f.requestedRegion} (--region), where the AMI is meant to be registered`,
      `upload to a bucket in ${f.requestedRegion}, or to use this bucket ${migrate}`,
    );
  }
  let cert = f.ec2Certificate;
  if (cert === undefined) {
    try {
      cert = ec2CertificateForRegion(f.bucketRegion);
    } catch {
      return;
    }
  }
  const fit = ec2WrapFits(f.manifest, cert.publicKey);
  if (!fit.fits) {
    throw new BundleRegionMismatchError(
      f.bucket,
      f.bucketRegion,
      `the manifest was bundled for another partition (${fit.reason}), EC2 in ${f.bucketRegion} could not decrypt it`,
      migrate,
    );
  }
}
