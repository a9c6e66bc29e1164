/**
 * An image to bundle, read straight from S3: HeadObject for its size and time, then ONE streaming
 * GetObject whose bytes are handed to the engine's sequential `read(position, buf)` calls. When the
 * stream breaks (reset, timeout, early end), it reconnects with a ranged GET from the exact byte it had
 * reached, retried with backoff; the retry budget is per break, so a long read over a flaky link keeps
 * going as long as it makes progress. Every GET carries If-Match with the ETag seen at `open`, so an
 * object replaced mid-read fails (S3ObjectChangedError) instead of mixing two versions.
 */
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ImageTooLargeError, MAX_IMAGE_BYTES } from '@bundlefarm/errors';
import type { ImageInfo, ImageSource } from '@bundlefarm/engine';
import { asReadable } from './read-body.js';
import { backoffDelay, checkRetryOptions, sleep, withRetry, type RetryEvent, type RetryOptions, type RetryPolicy } from './retry.js';
import { abortedError, describeS3Error, isRetryableS3Error, s3ErrorFacts, toS3Error } from './s3-error-mapping.js';
import { S3ObjectChangedError } from './s3-errors.js';
import { checkBucketName, checkObjectKey, formatS3Url, parseS3Url, type S3Location } from './s3-url.js';

export interface S3ImageSourceOptions {
  /** Retries of each request (and of each reconnect) on top of the SDK's own (default: 5 tries, 250 ms base, 20 s cap). */
  retry?: RetryOptions;
  /** Cancels requests in flight. */
  signal?: AbortSignal;
  onRetry?: (event: RetryEvent) => void;
}

export class S3ImageSource implements ImageSource {
  readonly description: string;
  readonly defaultName: string;
  readonly bucket: string;
  readonly key: string;
  private readonly retry: RetryPolicy;
  private size = -1;
  private etag: string | undefined;
  private info: ImageInfo | undefined;
  private body: Readable | undefined;
  private chunks: AsyncIterator<Buffer, undefined> | undefined;
  private leftover: Buffer | undefined;
  /** Object offset of the next byte the current stream delivers. */
  private streamPosition = 0;
  private closed = false;

  constructor(
    private readonly client: S3Client,
    location: string | S3Location,
    private readonly options: S3ImageSourceOptions = {},
  ) {
    const loc = typeof location === 'string' ? parseS3Url(location) : location;
    this.bucket = checkBucketName(loc.bucket);
    this.key = checkObjectKey(loc.key);
    this.description = formatS3Url(this.bucket, this.key);
    this.defaultName = posix.basename(this.key);
    this.retry = checkRetryOptions(options.retry);
  }

  /** HeadObject (once: a second call answers the same, without a request). */
  async open(): Promise<ImageInfo> {
    if (this.info) return this.info;
    const { signal } = this.options;
    let head;
    try {
      head = await withRetry(this.retryContext('HeadObject'), () =>
        this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key }), { abortSignal: signal }),
      );
    } catch (err) {
      throw toS3Error(err, { bucket: this.bucket, key: this.key, operation: 'HeadObject' });
    }
    const size = head.ContentLength ?? 0;
    // refused here, before a byte of a huge object is fetched
    if (size > MAX_IMAGE_BYTES) throw new ImageTooLargeError(this.description, size);
    this.size = size;
    this.etag = head.ETag;
    const mtime = head.LastModified ? Math.floor(head.LastModified.getTime() / 1000) : undefined;
    this.info = { size, ...(mtime !== undefined ? { mtime } : {}) };
    return this.info;
  }

  async read(position: number, buf: Uint8Array): Promise<void> {
    if (this.size < 0 || this.closed) throw new Error('S3ImageSource.read before open or after close');
    if (position < 0 || position + buf.length > this.size) {
      throw new RangeError(`read of [${position}, ${position + buf.length}) is outside the ${this.size}-byte object`);
    }
    let filled = 0;
    let failures = 0;
    while (filled < buf.length) {
      try {
        if (!this.chunks || this.streamPosition !== position + filled) await this.connect(position + filled);
        const chunk = await this.nextChunk();
        const n = Math.min(chunk.length, buf.length - filled);
        buf.set(chunk.subarray(0, n), filled);
        this.leftover = n < chunk.length ? chunk.subarray(n) : undefined;
        this.streamPosition += n;
        filled += n;
        failures = 0;
      } catch (err) {
        this.disconnect();
        const { signal } = this.options;
        if (signal?.aborted) throw abortedError({ bucket: this.bucket, key: this.key, operation: 'GetObject' }, signal.reason, err);
        failures++;
        if (failures >= this.retry.attempts || !isRetryableS3Error(err)) {
          throw toS3Error(err, { bucket: this.bucket, key: this.key, operation: 'GetObject' });
        }
        const delayMs = backoffDelay(failures, this.retry);
        this.options.onRetry?.({ operation: 'GetObject', bucket: this.bucket, key: this.key, attempt: failures, delayMs, reason: describeS3Error(err) });
        await sleep(delayMs, signal).catch(() => {
          throw abortedError({ bucket: this.bucket, key: this.key, operation: 'GetObject' }, signal?.reason);
        });
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.disconnect();
  }

  /** One GET from `position` to the end (ranged unless 0), checked to be the object seen at open. */
  private async connect(position: number): Promise<void> {
    this.disconnect();
    let out;
    try {
      out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.key,
          ...(position > 0 ? { Range: `bytes=${position}-` } : {}),
          ...(this.etag !== undefined ? { IfMatch: this.etag } : {}),
        }),
        { abortSignal: this.options.signal },
      );
    } catch (err) {
      const { status, name } = s3ErrorFacts(err);
      if (status === 412 || name === 'PreconditionFailed') throw new S3ObjectChangedError(this.bucket, this.key, { cause: err });
      throw err;
    }
    const body = asReadable(out.Body);
    const expected = this.size - position;
    const rangeStart = out.ContentRange ? Number(/^bytes (\d+)-/.exec(out.ContentRange)?.[1]) : 0;
    if (out.ContentLength !== expected || rangeStart !== position || (this.etag !== undefined && out.ETag !== undefined && out.ETag !== this.etag)) {
      body.destroy();
      throw new S3ObjectChangedError(this.bucket, this.key);
    }
    this.body = body;
    this.chunks = body[Symbol.asyncIterator]() as AsyncIterator<Buffer, undefined>;
    this.streamPosition = position;
  }

  private async nextChunk(): Promise<Buffer> {
    if (this.leftover) {
      const chunk = this.leftover;
      this.leftover = undefined;
      return chunk;
    }
    const { done, value } = await this.chunks!.next();
    if (done) {
      // the server ended the body early without an error: reconnect from here
      throw Object.assign(new Error(`the stream ended at byte ${this.streamPosition} of ${this.size}`), { name: 'IncompleteBody' });
    }
    return Buffer.isBuffer(value) ? value : Buffer.from(value);
  }

  private disconnect(): void {
    this.body?.destroy();
    this.body = undefined;
    this.chunks = undefined;
    this.leftover = undefined;
  }

  private retryContext(operation: string) {
    const { signal, onRetry } = this.options;
    return { policy: this.retry, operation, bucket: this.bucket, key: this.key, ...(signal ? { signal } : {}), ...(onRetry ? { onRetry } : {}) };
  }
}
