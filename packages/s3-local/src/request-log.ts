/*
 * Every request the S3 front answered, in order, for tests to count and order what a client did:
 * "no DELETE happened", "the manifest went up after every part", "worker A's last write was answered
 * before worker B's first arrived". Each record has its arrival order (`id`), the order its answer
 * went out (`answeredOrder`), and both events' places in one sequence of arrivals and answers
 * (`receivedSeq`, `answeredSeq`): a write has taken effect at the store once it is answered, so
 * `a.answeredSeq < b.receivedSeq` says that `a` had landed before `b` reached S3. (Tell clients apart
 * by key pair: `registerS3Credentials()` per worker, then `accessKeyId`.)
 */
import { EventEmitter } from 'node:events';

export type AuthKind = 'sigv4-header' | 'sigv4-query' | 'sigv2-header' | 'sigv2-query' | 'anonymous';

export interface RecordedS3Request {
  /** Arrival order, from 1 (across every endpoint of the front). */
  id: number;
  /** Order in which answers went out, from 1; 0 while unanswered (or when the client went away first). */
  answeredOrder: number;
  /** Place of the arrival, and of the answer (0 until answered), in one sequence of arrivals and answers. */
  receivedSeq: number;
  answeredSeq: number;
  /** `performance.now()` at arrival and answer (0 until answered). */
  receivedAt: number;
  answeredAt: number;
  /** Region of the endpoint the request reached. */
  endpointRegion: string;
  method: string;
  /** Path as sent (percent-encoded), without the query. */
  path: string;
  /** Decoded query parameters (first value of each). */
  query: Record<string, string>;
  bucket: string | undefined;
  key: string | undefined;
  /** S3 operation: PutObject, GetObject, DeleteObject, DeleteObjects, GetBucketLocation … */
  operation: string;
  auth: AuthKind;
  accessKeyId: string | undefined;
  /** Account of the caller (undefined: anonymous or not authenticated). */
  account: string | undefined;
  /** Region of the SigV4 credential scope. */
  signingRegion: string | undefined;
  /** x-amz-content-sha256 as sent (a hex hash, UNSIGNED-PAYLOAD, STREAMING-…). */
  payload: string | undefined;
  /** Headers a test may want to check (content-md5, x-amz-acl, x-amz-checksum-*, if-match, range, user-agent …). */
  headers: Record<string, string>;
  /** Bytes of the (decoded) request body, and their base64 MD5. */
  bodyBytes: number;
  bodyMd5: string;
  /** HTTP status answered (0 when the client went away first). */
  status: number;
  /** S3 error code of a refusal (from the front or the store behind it). */
  errorCode: string | undefined;
  /** Canned ACL an object or bucket was stored with (writes that succeeded). */
  acl: string | undefined;
  /** Keys named by a DeleteObjects request. */
  deleteKeys: string[] | undefined;
  /** Remote address:port of the client connection. */
  remote: string;
}

/** Matchers for common requests. */
export const s3Calls = {
  /** Object writes that may store bytes: PutObject, CopyObject, UploadPart, CompleteMultipartUpload. */
  write: (r: RecordedS3Request): boolean => ['PutObject', 'CopyObject', 'UploadPart', 'UploadPartCopy', 'CompleteMultipartUpload'].includes(r.operation),
  /** Requests that remove objects: DeleteObject and DeleteObjects. */
  delete: (r: RecordedS3Request): boolean => r.operation === 'DeleteObject' || r.operation === 'DeleteObjects',
  operation:
    (...names: string[]) =>
    (r: RecordedS3Request): boolean =>
      names.includes(r.operation),
  inBucket:
    (bucket: string) =>
    (r: RecordedS3Request): boolean =>
      r.bucket === bucket,
  succeeded: (r: RecordedS3Request): boolean => r.status >= 200 && r.status < 300,
  refused: (r: RecordedS3Request): boolean => r.status >= 300,
};

export class RequestLog {
  private records: RecordedS3Request[] = [];
  private nextId = 1;
  private nextAnswer = 1;
  private nextSeq = 1;
  private readonly events = new EventEmitter();

  /** `keep` false: records are not kept (`all` stays empty; `waitFor` and `onAnswered` still see them), for a long-running front. */
  constructor(private readonly keep = true) {}

  /** Every request since the start (or `clear`), in arrival order. */
  get all(): readonly RecordedS3Request[] {
    return this.records;
  }

  filter(match: (r: RecordedS3Request) => boolean): RecordedS3Request[] {
    return this.records.filter(match);
  }

  /** Keys deleted (or asked to be deleted) in `bucket`, by DeleteObject and DeleteObjects, in order. */
  deletedKeys(bucket?: string): string[] {
    return this.records
      .filter((r) => s3Calls.delete(r) && (bucket === undefined || r.bucket === bucket))
      .flatMap((r) => (r.operation === 'DeleteObjects' ? (r.deleteKeys ?? []) : r.key !== undefined ? [r.key] : []));
  }

  clear(): void {
    this.records = [];
  }

  /** Resolves with the first answered request matching (already recorded or still to come). */
  waitFor(match: (r: RecordedS3Request) => boolean, timeoutMs = 30_000): Promise<RecordedS3Request> {
    const seen = this.records.find((r) => r.answeredOrder > 0 && match(r));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const onAnswer = (r: RecordedS3Request): void => {
        if (!match(r)) return;
        clearTimeout(timer);
        this.events.off('answered', onAnswer);
        resolve(r);
      };
      const timer = setTimeout(() => {
        this.events.off('answered', onAnswer);
        reject(new Error(`no matching S3 request within ${timeoutMs} ms`));
      }, timeoutMs);
      this.events.on('answered', onAnswer);
    });
  }

  /** Calls `listener` with every request once answered; returns the function that stops it. */
  onAnswered(listener: (r: RecordedS3Request) => void): () => void {
    this.events.on('answered', listener);
    return () => void this.events.off('answered', listener);
  }

  /** @internal the front's side */
  begin(fields: Omit<RecordedS3Request, 'id' | 'answeredOrder' | 'receivedSeq' | 'answeredSeq' | 'receivedAt' | 'answeredAt'>): RecordedS3Request {
    const record: RecordedS3Request = {
      ...fields,
      id: this.nextId++,
      answeredOrder: 0,
      receivedSeq: this.nextSeq++,
      answeredSeq: 0,
      receivedAt: performance.now(),
      answeredAt: 0,
    };
    if (this.keep) this.records.push(record);
    return record;
  }

  /** @internal */
  answered(record: RecordedS3Request): void {
    if (record.answeredOrder > 0) return;
    record.answeredOrder = this.nextAnswer++;
    record.answeredSeq = this.nextSeq++;
    record.answeredAt = performance.now();
    this.events.emit('answered', record);
  }
}
