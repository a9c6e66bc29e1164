/*
 * ec2-ami-tools' `-b BUCKET[/PREFIX]`: a bucket name, optionally followed by a key prefix (`my-amis/web/v2`).
 * An `s3://` URL is accepted too. The prefix comes back normalized ('' or ending with `/`).
 */
import { checkBucketName, checkKeyPrefix } from './s3-url.js';

export interface BucketAndPrefix {
  bucket: string;
  /** '' or `dir/…/` */
  prefix: string;
}

export function parseBucketArgument(value: string): BucketAndPrefix {
  const rest = /^s3:\/\//i.test(value) ? value.slice('s3://'.length) : value;
  const slash = rest.indexOf('/');
  const bucket = checkBucketName(slash === -1 ? rest : rest.slice(0, slash));
  const prefix = checkKeyPrefix(slash === -1 ? '' : rest.slice(slash + 1));
  return { bucket, prefix };
}
