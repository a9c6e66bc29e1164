/*
 * The S3 side of images sent by clients (CI) to a staging bucket: the API makes presigned URLs for a
 * single PUT, or starts a multipart upload and presigns its UploadPart requests, lists the parts already
 * there (to resume) and completes it; the workers read the mark of a staged object and delete it once
 * its job ended. Every staged object carries the mark `x-amz-meta-bundlefarm-upload: <upload id>`, set
 * by the API (in the presigned PUT's signed query, or on CreateMultipartUpload): a worker deletes only
 * objects that carry it (see packages/queue/src/staging).
 *
 * Presigned URLs are SigV4 query strings (@aws-sdk/s3-request-presigner): the client needs no
 * credentials, and can do nothing but that one request on that one key until the URL expires.
 */
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { checkRetryOptions, withRetry, type RetryOptions } from './retry.js';
import { toS3Error } from './s3-error-mapping.js';
import { S3ObjectNotFoundError } from './s3-errors.js';

/** The metadata name of the mark (`x-amz-meta-bundlefarm-upload`). */
export const STAGED_UPLOAD_METADATA = 'bundlefarm-upload';

export interface StagedObject {
  bucket: string;
  key: string;
}

export interface UploadedPart {
  partNumber: number;
  /** As S3 gives it (quotes removed). */
  etag: string;
  size: number;
}

export interface StagedOptions {
  retry?: RetryOptions;
  signal?: AbortSignal;
}

async function attempt<T>(operation: string, o: StagedObject, options: StagedOptions, run: () => Promise<T>): Promise<T> {
  try {
    return await withRetry(
      { policy: checkRetryOptions(options.retry), operation, bucket: o.bucket, key: o.key, ...(options.signal ? { signal: options.signal } : {}) },
      run,
    );
  } catch (err) {
    throw toS3Error(err, { bucket: o.bucket, key: o.key, operation });
  }
}

/** A presigned PutObject URL of `o`, with the mark in its signed query (the client sends no x-amz-meta header). */
export function presignStagedPut(client: S3Client, o: StagedObject, mark: string, expiresInSeconds: number): Promise<string> {
  return getSignedUrl(client, new PutObjectCommand({ Bucket: o.bucket, Key: o.key, Metadata: { [STAGED_UPLOAD_METADATA]: mark } }), {
    expiresIn: expiresInSeconds,
  });
}

/** Starts a multipart upload of `o` carrying the mark; resolves to S3's upload id. */
export async function createStagedMultipart(client: S3Client, o: StagedObject, mark: string, options: StagedOptions = {}): Promise<string> {
  const out = await attempt('CreateMultipartUpload', o, options, () =>
    client.send(new CreateMultipartUploadCommand({ Bucket: o.bucket, Key: o.key, Metadata: { [STAGED_UPLOAD_METADATA]: mark } }), { abortSignal: options.signal }),
  );
  if (!out.UploadId) throw toS3Error(new Error('CreateMultipartUpload answered without an UploadId'), { bucket: o.bucket, key: o.key, operation: 'CreateMultipartUpload' });
  return out.UploadId;
}

/** A presigned UploadPart URL. */
export function presignStagedPart(client: S3Client, o: StagedObject, uploadId: string, partNumber: number, expiresInSeconds: number): Promise<string> {
  return getSignedUrl(client, new UploadPartCommand({ Bucket: o.bucket, Key: o.key, UploadId: uploadId, PartNumber: partNumber }), { expiresIn: expiresInSeconds });
}

/** The parts of a multipart upload already stored (ListParts, every page). */
export async function listStagedParts(client: S3Client, o: StagedObject, uploadId: string, options: StagedOptions = {}): Promise<UploadedPart[]> {
  const parts: UploadedPart[] = [];
  let marker: string | undefined;
  for (let page = 0; page < 100; page++) {
    const out = await attempt('ListParts', o, options, () =>
      client.send(new ListPartsCommand({ Bucket: o.bucket, Key: o.key, UploadId: uploadId, ...(marker !== undefined ? { PartNumberMarker: marker } : {}) }), {
        abortSignal: options.signal,
      }),
    );
    for (const p of out.Parts ?? []) {
      if (p.PartNumber === undefined || p.ETag === undefined) continue;
      parts.push({ partNumber: p.PartNumber, etag: p.ETag.replace(/"/g, ''), size: p.Size ?? 0 });
    }
    if (!out.IsTruncated || out.NextPartNumberMarker === undefined) break;
    marker = out.NextPartNumberMarker;
  }
  return parts.sort((a, b) => a.partNumber - b.partNumber);
}

/** Completes a multipart upload with the parts' ETags (S3 refuses ETags that are not what it stored). */
export async function completeStagedMultipart(
  client: S3Client,
  o: StagedObject,
  uploadId: string,
  parts: ReadonlyArray<{ partNumber: number; etag: string }>,
  options: StagedOptions = {},
): Promise<void> {
  await attempt('CompleteMultipartUpload', o, options, () =>
    client.send(
      new CompleteMultipartUploadCommand({
        Bucket: o.bucket,
        Key: o.key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: `"${p.etag.replace(/"/g, '')}"` })) },
      }),
      { abortSignal: options.signal },
    ),
  );
}

/** Size and mark of a staged object; undefined when there is no such object. */
export async function headStagedObject(client: S3Client, o: StagedObject, options: StagedOptions = {}): Promise<{ size: number; mark: string | undefined } | undefined> {
  try {
    const head = await attempt('HeadObject', o, options, () => client.send(new HeadObjectCommand({ Bucket: o.bucket, Key: o.key }), { abortSignal: options.signal }));
    return { size: head.ContentLength ?? 0, mark: head.Metadata?.[STAGED_UPLOAD_METADATA] };
  } catch (err) {
    if ((err as { code?: string }).code === S3ObjectNotFoundError.code) return undefined;
    throw err;
  }
}

/** Deletes a staged object (S3 answers a missing key with success too). */
export async function deleteStagedObject(client: S3Client, o: StagedObject, options: StagedOptions = {}): Promise<void> {
  await attempt('DeleteObject', o, options, () => client.send(new DeleteObjectCommand({ Bucket: o.bucket, Key: o.key }), { abortSignal: options.signal }));
}
