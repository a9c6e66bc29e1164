/*
 * Uploads of images from CI into the staging area (`POST /v1/uploads`), the API's side: the API never
 * sees the bytes. It hands out presigned S3 URLs for an object at PREFIX/<principal>/<uuid>/<file>:
 *
 * - up to MULTIPART_THRESHOLD (64 MiB), one PutObject URL (part 1 of 1);
 * - above it, a multipart upload the API starts itself (CreateMultipartUpload, with the upload's mark
 *   `x-amz-meta-bundlefarm-upload`), one UploadPart URL per part of `partSize` bytes (16 MiB, more
 *   for images over 156 GiB so that there are at most 10 000 parts).
 *
 * `describe` (GET /v1/uploads/:id) lists what is there already (ListParts, or HeadObject for a single
 * PUT) and gives fresh URLs for the rest: a client that was cut off sends only the missing parts.
 * `complete` checks that every part is there with the ETag the client computed (MD5 of its bytes),
 * completes the multipart upload, and checks the object: size and mark.
 *
 * The upload (bucket, key, S3's upload id, sizes) is remembered in Redis for the replay TTL under its
 * id, with its principal: another principal's upload id is answered as unknown. The staging location
 * must be inside the caller's image scope, or nothing is started (403, field `image`).
 */
import { randomUUID } from 'node:crypto';
import { MAX_IMAGE_SIZE } from '@bundlefarm/format';
import {
  imageScopeProblem,
  OutOfScopeError,
  parseStagingArea,
  stagedKey,
  stagingScopeGlob,
  STAGED_FILENAME_PATTERN,
  UPLOAD_ID_PATTERN,
  type BundleProducer,
  type Principal,
  type StagingArea,
} from '@bundlefarm/queue';
import {
  completeStagedMultipart,
  createS3Client,
  createStagedMultipart,
  formatS3Url,
  headStagedObject,
  listStagedParts,
  presignStagedPart,
  presignStagedPut,
  type StagedObject,
} from '@bundlefarm/s3';
import { z } from 'zod';
import { BadRequestError } from '../errors/http-errors.js';
import type { StagingConfig } from '../server-config.js';
import { UploadIncompleteError, UploadNotFoundError } from './upload-errors.js';

const MiB = 1024 * 1024;
/** Largest image sent with one PUT; larger ones are multipart. */
export const MULTIPART_THRESHOLD = 64 * MiB;
/** Part size of multipart uploads (more for images that would need over 10 000 parts). */
export const PART_SIZE = 16 * MiB;
const MAX_PARTS = 10_000;
export const DEFAULT_URL_TTL_SECONDS = 3600;

export const createUploadSchema = z
  .object({
    filename: z.string().regex(STAGED_FILENAME_PATTERN, 'must be 1-100 letters, digits, ".", "_" or "-", not starting with "." (the bundle is named after it)'),
    size: z.number().int('must be a whole number of bytes').min(1, 'must be at least 1 byte').max(MAX_IMAGE_SIZE, `must be at most ${MAX_IMAGE_SIZE} bytes (10 GiB)`),
  })
  .strict();

export const completeUploadSchema = z
  .object({
    parts: z
      .array(z.object({ partNumber: z.number().int().min(1).max(MAX_PARTS), etag: z.string().min(1).max(128) }).strict())
      .min(1)
      .max(MAX_PARTS),
  })
  .strict();

/** What Redis keeps of an upload. */
interface UploadRecord {
  v: 1;
  principal: string;
  bucket: string;
  key: string;
  filename: string;
  size: number;
  partSize: number;
  /** S3's id of the multipart upload (absent: a single PUT). */
  s3UploadId?: string;
  createdAt: string;
}

export interface UploadPartView {
  partNumber: number;
  size: number;
  /** Already stored: its ETag (then no URL). */
  etag?: string;
  /** Presigned URL to PUT the part's bytes to (absent when stored). */
  url?: string;
}

export interface UploadView {
  id: string;
  /** The job's image once complete: `s3://BUCKET/PREFIX/<principal>/<id>/<filename>`. */
  image: string;
  filename: string;
  size: number;
  multipart: boolean;
  partSize: number;
  /** True once the object is complete (nothing left to send). */
  completed: boolean;
  /** When the URLs stop working (ISO 8601). */
  expiresAt: string;
  parts: UploadPartView[];
  /** POST here (with `{ parts: [{ partNumber, etag }] }`) once every part is sent. */
  completeUrl: string;
}

export interface CompletedUpload {
  id: string;
  image: string;
  size: number;
}

function partSizeFor(size: number): number {
  if (size <= MULTIPART_THRESHOLD) return size;
  return Math.max(PART_SIZE, Math.ceil(size / MAX_PARTS / MiB) * MiB);
}

function partCount(r: Pick<UploadRecord, 'size' | 'partSize'>): number {
  return Math.ceil(r.size / r.partSize);
}

function partLength(r: Pick<UploadRecord, 'size' | 'partSize'>, n: number): number {
  return Math.min(r.partSize, r.size - (n - 1) * r.partSize);
}

export class StagingUploads {
  readonly area: StagingArea;
  private readonly client: ReturnType<typeof createS3Client>;
  /** Signs only (never sends): names the endpoint clients use. */
  private readonly signer: ReturnType<typeof createS3Client>;
  private readonly ttl: number;

  constructor(
    config: StagingConfig,
    private readonly producer: Pick<BundleProducer, 'rememberOnce' | 'recall'>,
  ) {
    this.area = parseStagingArea(config.url, 'BUNDLEFARM_STAGING');
    this.client = createS3Client({ connectionTimeoutMs: 2_000, requestTimeoutMs: 30_000, maxAttempts: 3, ...config.s3 });
    this.signer = config.publicEndpoint !== undefined ? createS3Client({ ...config.s3, endpoint: config.publicEndpoint }) : this.client;
    this.ttl = config.urlTtlSeconds ?? DEFAULT_URL_TTL_SECONDS;
  }

  close(): void {
    this.client.destroy();
    if (this.signer !== this.client) this.signer.destroy();
  }

  /** Starts an upload for `principal` (403 when the staging area is outside its image scope). */
  async create(principal: Principal, body: unknown): Promise<UploadView> {
    const r = createUploadSchema.safeParse(body);
    if (!r.success) throw new BadRequestError(`the upload request is invalid: ${r.error.issues.map((i) => `${i.path.map(String).join('.') || '(body)'}: ${i.message}`).join('; ')}`);
    const { filename, size } = r.data;
    const id = randomUUID();
    const key = stagedKey(this.area, principal.name, id, filename);
    const image = formatS3Url(this.area.bucket, key);
    const problem = imageScopeProblem(principal, image);
    if (problem !== undefined) {
      throw new OutOfScopeError(principal.name, [
        {
          path: 'image',
          message: `${problem}; uploads go to the staging area, so the principal's images need ${JSON.stringify(stagingScopeGlob(this.area, principal.name))}`,
        },
      ]);
    }
    const record: UploadRecord = { v: 1, principal: principal.name, bucket: this.area.bucket, key, filename, size, partSize: partSizeFor(size), createdAt: new Date().toISOString() };
    if (size > MULTIPART_THRESHOLD) record.s3UploadId = await createStagedMultipart(this.client, record, id);
    await this.producer.rememberOnce(recordKey(id), JSON.stringify(record));
    return this.view(id, record, [], false);
  }

  /** The upload with what is stored already and fresh URLs for the rest. */
  async describe(principal: Principal, id: string): Promise<UploadView> {
    const record = await this.record(principal, id);
    if (await this.isComplete(record, id)) return this.view(id, record, [], true);
    const stored = record.s3UploadId !== undefined ? await listStagedParts(this.client, record, record.s3UploadId) : [];
    return this.view(id, record, stored, false);
  }

  /** Completes the upload once every part is there with the ETag given (idempotent). */
  async complete(principal: Principal, id: string, body: unknown): Promise<CompletedUpload> {
    const r = completeUploadSchema.safeParse(body);
    if (!r.success) throw new BadRequestError(`the completion request is invalid: ${r.error.issues.map((i) => `${i.path.map(String).join('.') || '(body)'}: ${i.message}`).join('; ')}`);
    const record = await this.record(principal, id);
    const done = { id, image: formatS3Url(record.bucket, record.key), size: record.size };
    if (await this.isComplete(record, id)) return done;
    if (record.s3UploadId === undefined) throw new UploadIncompleteError(id, 'the object was not PUT (or not with the URL given), or has another size');
    const given = new Map(r.data.parts.map((p) => [p.partNumber, p.etag.replace(/"/g, '')]));
    const stored = new Map((await listStagedParts(this.client, record, record.s3UploadId)).map((p) => [p.partNumber, p]));
    const missing: number[] = [];
    for (let n = 1; n <= partCount(record); n++) {
      const s = stored.get(n);
      if (s?.size !== partLength(record, n) || (given.get(n) ?? '') !== s.etag) missing.push(n);
    }
    if (missing.length > 0 || given.size !== partCount(record)) {
      throw new UploadIncompleteError(id, `part(s) ${summarize(missing)} are missing, of another size, or stored with another ETag than given (${partCount(record)} parts in all)`);
    }
    await completeStagedMultipart(
      this.client,
      record,
      record.s3UploadId,
      [...stored.values()].sort((a, b) => a.partNumber - b.partNumber),
    );
    if (!(await this.isComplete(record, id))) throw new UploadIncompleteError(id, 'S3 completed the upload but the object is not as expected');
    return done;
  }

  private async isComplete(record: UploadRecord, id: string): Promise<boolean> {
    const head = await headStagedObject(this.client, record);
    return head?.size === record.size && head.mark === id;
  }

  private async record(principal: Principal, id: string): Promise<UploadRecord> {
    if (!UPLOAD_ID_PATTERN.test(id)) throw new UploadNotFoundError(id);
    const text = await this.producer.recall(recordKey(id));
    let record: UploadRecord | undefined;
    try {
      record = text !== undefined ? (JSON.parse(text) as UploadRecord) : undefined;
    } catch {
      record = undefined;
    }
    // another principal's upload is answered as unknown: ids cannot be probed
    if (record?.v !== 1 || record.principal !== principal.name) throw new UploadNotFoundError(id);
    return record;
  }

  private async view(id: string, record: UploadRecord, stored: ReadonlyArray<{ partNumber: number; etag: string; size: number }>, completed: boolean): Promise<UploadView> {
    const byNumber = new Map(stored.map((p) => [p.partNumber, p]));
    const object: StagedObject = { bucket: record.bucket, key: record.key };
    const parts: UploadPartView[] = [];
    for (let n = 1; n <= partCount(record); n++) {
      const size = partLength(record, n);
      const s = byNumber.get(n);
      if (completed) parts.push({ partNumber: n, size });
      else if (s?.size === size) parts.push({ partNumber: n, size, etag: s.etag });
      else {
        const url =
          record.s3UploadId !== undefined ? await presignStagedPart(this.signer, object, record.s3UploadId, n, this.ttl) : await presignStagedPut(this.signer, object, id, this.ttl);
        parts.push({ partNumber: n, size, url });
      }
    }
    return {
      id,
      image: formatS3Url(record.bucket, record.key),
      filename: record.filename,
      size: record.size,
      multipart: record.s3UploadId !== undefined,
      partSize: record.partSize,
      completed,
      expiresAt: new Date(Date.now() + this.ttl * 1000).toISOString(),
      parts,
      completeUrl: `/v1/uploads/${id}/complete`,
    };
  }
}

const recordKey = (id: string): string => `upload:${id}`;

function summarize(numbers: number[]): string {
  if (numbers.length === 0) return '(count mismatch)';
  return numbers.length > 10 ? `${numbers.slice(0, 10).join(', ')} … (${numbers.length})` : numbers.join(', ');
}

