/*
 * The few S3 XML documents the front reads: CreateBucket's LocationConstraint, the keys of a
 * DeleteObjects request and of its answer, the UploadId of CreateMultipartUpload's answer — parsed
 * with fast-xml-parser (entities decoded, no attributes), malformed ones refused as S3 refuses them.
 */
import { XMLParser } from 'fast-xml-parser';
import { S3FrontError } from './s3-error.js';

const parser = new XMLParser({ parseTagValue: false, processEntities: true, ignoreAttributes: true, isArray: (name) => ['Object', 'Deleted'].includes(name) });

function parse(body: Buffer): unknown {
  try {
    return parser.parse(body.toString('utf8'), true);
  } catch {
    throw new S3FrontError(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
  }
}

/** The LocationConstraint of a CreateBucket body; undefined when there is none (us-east-1). */
export function locationConstraint(body: Buffer): string | undefined {
  if (body.length === 0) return undefined;
  const constraint = (parse(body) as { CreateBucketConfiguration?: { LocationConstraint?: unknown } }).CreateBucketConfiguration?.LocationConstraint;
  return typeof constraint === 'string' && constraint !== '' ? constraint : undefined;
}

/** The keys a DeleteObjects request names. */
export function deleteRequestKeys(body: Buffer): string[] {
  const objects = (parse(body) as { Delete?: { Object?: Array<{ Key?: unknown }> } }).Delete?.Object ?? [];
  return objects.flatMap((o) => (typeof o.Key === 'string' ? [o.Key] : []));
}

/** The keys a DeleteObjects answer reports deleted. */
export function deletedKeys(answer: Buffer): string[] {
  const deleted = (parse(answer) as { DeleteResult?: { Deleted?: Array<{ Key?: unknown }> } }).DeleteResult?.Deleted ?? [];
  return deleted.flatMap((d) => (typeof d.Key === 'string' ? [d.Key] : []));
}

/** The UploadId of a CreateMultipartUpload answer. */
export function uploadIdOf(answer: Buffer): string | undefined {
  const id = (parse(answer) as { InitiateMultipartUploadResult?: { UploadId?: unknown } }).InitiateMultipartUploadResult?.UploadId;
  return typeof id === 'string' ? id : undefined;
}
