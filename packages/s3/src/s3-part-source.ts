/**
 * Reads a bundle's parts and manifest from `s3://bucket/prefix` for unbundle and verify. Names must be
 * plain file names (the manifest parser refuses others; this is the second wall), so a manifest can
 * never make us read outside the prefix. A part larger than allowed is refused from its
 * Content-Length, before its body is read; a missing part rejects with `code: 'NoSuchKey'`, which the
 * engine reports as PartMissingError.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { UnsafePathError } from '@bundlefarm/errors';
import type { PartSource } from '@bundlefarm/engine';
import { isPlainFileName } from '@bundlefarm/format';
import { readBody } from './read-body.js';
import { checkRetryOptions, withRetry, type RetryEvent, type RetryOptions, type RetryPolicy } from './retry.js';
import { s3ErrorFacts, toS3Error } from './s3-error-mapping.js';
import { S3NoSuchKeyError, S3ObjectNotFoundError, S3ObjectTooLargeError } from './s3-errors.js';
import { checkBucketName, checkKeyPrefix, formatS3Url } from './s3-url.js';

export interface S3PartSourceOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix of the bundle (default ''). */
  prefix?: string;
  /** Retries of each GET on top of the SDK's own (default: 5 tries, 250 ms base, 20 s cap). */
  retry?: RetryOptions;
  signal?: AbortSignal;
  onRetry?: (event: RetryEvent) => void;
}

/** Largest manifest read (a 1025-part manifest is about 200 KB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export class S3PartSource implements PartSource {
  readonly location: string;
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly retry: RetryPolicy;

  constructor(private readonly options: S3PartSourceOptions) {
    this.client = options.client;
    this.bucket = checkBucketName(options.bucket);
    this.prefix = checkKeyPrefix(options.prefix ?? '');
    this.retry = checkRetryOptions(options.retry);
    this.location = formatS3Url(this.bucket, this.prefix);
  }

  async readPart(fileName: string, maxBytes: number): Promise<Buffer> {
    const key = this.keyOf(fileName);
    try {
      return await this.getObject(key, maxBytes);
    } catch (err) {
      if (isMissingObject(err)) throw new S3NoSuchKeyError(this.bucket, key, { cause: err });
      throw toS3Error(err, { bucket: this.bucket, key, operation: 'GetObject' });
    }
  }

  async readManifest(fileName: string): Promise<Buffer> {
    const key = this.keyOf(fileName);
    try {
      return await this.getObject(key, MAX_MANIFEST_BYTES);
    } catch (err) {
      if (isMissingObject(err)) throw new S3ObjectNotFoundError(this.bucket, key, { cause: err });
      throw toS3Error(err, { bucket: this.bucket, key, operation: 'GetObject' });
    }
  }

  private keyOf(fileName: string): string {
    if (!isPlainFileName(fileName)) throw new UnsafePathError(fileName, this.location);
    return this.prefix + fileName;
  }

  private getObject(key: string, maxBytes: number): Promise<Buffer> {
    const { signal, onRetry } = this.options;
    const tooLarge = (size: number) => new S3ObjectTooLargeError(this.bucket, key, size, maxBytes);
    return withRetry(
      { policy: this.retry, operation: 'GetObject', bucket: this.bucket, key, ...(signal ? { signal } : {}), ...(onRetry ? { onRetry } : {}) },
      async () => {
        const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
        if (out.ContentLength !== undefined && out.ContentLength > maxBytes) {
          asDestroyable(out.Body)?.destroy();
          throw tooLarge(out.ContentLength);
        }
        const data = await readBody(out.Body, maxBytes, tooLarge);
        if (out.ContentLength !== undefined && data.length !== out.ContentLength) {
          // the connection ended early without an error: try again
          throw Object.assign(new Error(`got ${data.length} of ${out.ContentLength} bytes`), { name: 'IncompleteBody' });
        }
        return data;
      },
    );
  }
}

function isMissingObject(err: unknown): boolean {
  const { status, name } = s3ErrorFacts(err);
  return name === 'NoSuchKey' || (status === 404 && name !== 'NoSuchBucket');
}

function asDestroyable(body: unknown): { destroy(): void } | undefined {
  return typeof (body as { destroy?: unknown } | undefined)?.destroy === 'function' ? (body as { destroy(): void }) : undefined;
}
