/*
 * Region facts the S3 front behaves by, from AWS's documentation:
 * - S3 answers a path-style request that reached another region's endpoint with `301 PermanentRedirect`
 *   (header `x-amz-bucket-region`) — except for buckets in regions launched after 20 March 2019, where
 *   it answers `400 IllegalLocationConstraintException` instead.
 * - Signature Version 2 works only in regions that existed before 30 January 2014; later regions take
 *   Signature Version 4 only.
 */

const REGION_NAME = /^[a-z]{2}(-[a-z]+)+-\d+$/;

export function isRegionName(name: string): boolean {
  return REGION_NAME.test(name);
}

/** Regions where S3 still accepts Signature Version 2 (those launched before 30 January 2014). */
export const SIGV2_REGIONS: ReadonlySet<string> = new Set([
  'us-east-1',
  'us-west-1',
  'us-west-2',
  'eu-west-1',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-northeast-1',
  'sa-east-1',
  'us-gov-west-1',
]);

/** Regions launched after 20 March 2019 (opt-in): a request at the wrong endpoint gets a 400, not a redirect. */
export const NO_REDIRECT_REGIONS: ReadonlySet<string> = new Set([
  'af-south-1',
  'ap-east-1',
  'ap-east-2',
  'ap-south-2',
  'ap-southeast-3',
  'ap-southeast-4',
  'ap-southeast-5',
  'ap-southeast-7',
  'ca-west-1',
  'eu-central-2',
  'eu-south-1',
  'eu-south-2',
  'il-central-1',
  'me-central-1',
  'me-south-1',
  'mx-central-1',
]);

/** S3's own host name for path-style requests in `region` (what `<Endpoint>` of a redirect names). */
export function awsS3Host(region: string): string {
  if (region === 'us-east-1') return 's3.amazonaws.com';
  return region.startsWith('cn-') ? `s3.${region}.amazonaws.com.cn` : `s3.${region}.amazonaws.com`;
}
