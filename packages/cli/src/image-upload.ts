/*
 * `bundlefarm enqueue --upload`: sends a local image to the service's staging area through the
 * presigned URLs of `POST /v1/uploads` (no S3 credentials on the CI runner), then the job is enqueued
 * on the staged object.
 *
 * - Each part is read into memory (16 MiB), sent with its Content-MD5 (S3 refuses damaged bytes), a
 *   few at a time, each retried a few times on a dropped connection or a 5xx.
 * - Resume: the upload's id is kept in a state file (in $BUNDLEFARM_UPLOAD_STATE_DIR, else
 *   $XDG_CACHE_HOME/bundlefarm/uploads, else ~/.cache/bundlefarm/uploads) named after the API, the
 *   image's real path, size and modification time. Run again after a cut, the command asks the API what
 *   is stored (GET /v1/uploads/:id) and sends only the parts missing — a stored part counts only if its
 *   ETag is the MD5 of the local bytes. The file goes once the upload is complete.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, realpath, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { BundlefarmError, FileUnreadableError, InvalidOptionError } from '@bundlefarm/errors';
import { ApiResponseError, type ApiClient, type UploadPartView, type UploadView } from './api-client.js';
import { createProgressView, formatBytes } from './progress-bar.js';

export const UPLOAD_STATE_DIR_ENV = 'BUNDLEFARM_UPLOAD_STATE_DIR';

/** The upload did not finish; what was sent stays, and running the command again resumes it. */
export class UploadFailedError extends BundlefarmError {
  static readonly code = 'BF_UPLOAD_FAILED';
  constructor(path: string, reason: string, sent: number, total: number, options: { cause?: unknown } = {}) {
    super(
      UploadFailedError.code,
      `uploading ${path} stopped with ${sent} of ${total} part(s) stored: ${reason}; run the same command again to send only the missing parts`,
      true,
      { ...options, details: { path, sent, total } },
    );
  }
}

export interface ImageUploadOptions {
  client: ApiClient;
  /** The API's base URL (part of the resume state's name). */
  apiUrl: string;
  env: NodeJS.ProcessEnv;
  /** Progress bar on stderr (when it is a terminal). */
  progress: boolean;
  /** Parts sent at once (default 4). */
  concurrency?: number;
  /** Tries per part (default 3). */
  attempts?: number;
  /** Told once per part sent (for logs and tests). */
  onPartSent?: (partNumber: number) => void;
}

export interface ImageUploadResult {
  image: string;
  id: string;
  /** Parts sent by this run (the others were stored by an earlier one). */
  sentParts: number;
  resumed: boolean;
}

function stateDir(env: NodeJS.ProcessEnv): string {
  const explicit = env[UPLOAD_STATE_DIR_ENV];
  if (explicit) return explicit;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'bundlefarm', 'uploads');
}

function md5(bytes: Buffer): Buffer {
  return createHash('md5').update(bytes).digest();
}

async function readPart(handle: FileHandle, part: UploadPartView, partSize: number, path: string): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(part.size);
  let filled = 0;
  while (filled < part.size) {
    const { bytesRead } = await handle.read(buffer, filled, part.size - filled, (part.partNumber - 1) * partSize + filled);
    if (bytesRead === 0) throw new FileUnreadableError(path, new Error('the file became shorter during the upload'));
    filled += bytesRead;
  }
  return buffer;
}

export async function uploadImage(path: string, options: ImageUploadOptions): Promise<ImageUploadResult> {
  const { client } = options;
  let info;
  let real: string;
  try {
    real = await realpath(path);
    info = await stat(real);
  } catch (err) {
    throw new FileUnreadableError(path, err);
  }
  if (!info.isFile()) throw new InvalidOptionError('--image', `${JSON.stringify(path)} is not a regular file (with --upload, -i names a local image)`);
  const filename = basename(real);

  const dir = stateDir(options.env);
  const stateFile = join(dir, `${createHash('sha256').update([options.apiUrl, real, info.size, info.mtimeMs].join('\0')).digest('hex').slice(0, 32)}.json`);
  let view: UploadView | undefined;
  let resumed = false;
  const earlier = await readFile(stateFile, 'utf8').then((t) => (JSON.parse(t) as { id?: unknown }).id, () => undefined);
  if (typeof earlier === 'string') {
    try {
      view = await client.upload(earlier);
      resumed = true;
    } catch (err) {
      // forgotten by the API (or another principal's token now): start afresh
      if (!(err instanceof ApiResponseError && err.status === 404)) throw err;
    }
  }

  const handle = await open(real, 'r').catch((err: unknown) => {
    throw new FileUnreadableError(path, err);
  });
  const bar = createProgressView(options.progress, 'upload');
  try {
    if (view && !view.completed && !(await storedPartsMatch(view, handle, path))) view = undefined; // the file changed: new upload
    if (!view) {
      view = await client.createUpload(filename, info.size);
      resumed = false;
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await writeFile(stateFile, JSON.stringify({ id: view.id, image: view.image }), { mode: 0o600 });
    }
    const total = view.parts.length;
    const etags = new Map<number, string>();
    let done = 0;
    const show = (): void => bar.update(done, info.size, `${formatBytes(done)} of ${formatBytes(info.size)}`);
    for (const p of view.parts) {
      if (view.completed || p.etag !== undefined) {
        if (p.etag !== undefined) etags.set(p.partNumber, p.etag);
        done += p.size;
      }
    }
    show();
    let sentParts = 0;
    if (!view.completed) {
      const todo = view.parts.filter((p) => p.etag === undefined);
      const current = view;
      const failures: unknown[] = [];
      let next = 0;
      const worker = async (): Promise<void> => {
        while (failures.length === 0 && next < todo.length) {
          const part = todo[next++]!;
          try {
            const bytes = await readPart(handle, part, current.partSize, path);
            const etag = await sendPart(client, current, part, bytes, options.attempts ?? 3);
            etags.set(part.partNumber, etag);
            sentParts++;
            done += part.size;
            show();
            options.onPartSent?.(part.partNumber);
          } catch (err) {
            failures.push(err);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 4, Math.max(1, todo.length)) }, () => worker()));
      if (failures.length > 0) {
        const first = failures[0];
        if (first instanceof FileUnreadableError) throw first;
        const reason = first instanceof Error ? ((first.cause as { code?: string } | undefined)?.code ?? first.message) : String(first);
        throw new UploadFailedError(path, reason, etags.size, total, { cause: first });
      }
      await client.completeUpload(
        current.id,
        [...etags.entries()].sort((a, b) => a[0] - b[0]).map(([partNumber, etag]) => ({ partNumber, etag })),
      );
    }
    await rm(stateFile, { force: true });
    return { image: view.image, id: view.id, sentParts, resumed };
  } finally {
    bar.stop();
    await handle.close();
  }
}

/** Whether every part the API says is stored has the MD5 of the local bytes as its ETag. */
async function storedPartsMatch(view: UploadView, handle: FileHandle, path: string): Promise<boolean> {
  for (const p of view.parts) {
    if (p.etag === undefined) continue;
    if (md5(await readPart(handle, p, view.partSize, path)).toString('hex') !== p.etag.replace(/"/g, '')) return false;
  }
  return true;
}

/** PUTs one part to its presigned URL (with Content-MD5); its ETag. Retries dropped connections and 5xx. */
async function sendPart(client: ApiClient, view: UploadView, part: UploadPartView, bytes: Buffer, attempts: number): Promise<string> {
  const digest = md5(bytes);
  let url = part.url;
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (url === undefined) {
      // a fresh URL (the one given expired, or none was given)
      url = (await client.upload(view.id)).parts.find((p) => p.partNumber === part.partNumber)?.url;
      if (url === undefined) return digest.toString('hex'); // stored meanwhile
    }
    try {
      const res = await fetch(url, {
        method: 'PUT',
        headers: { 'content-md5': digest.toString('base64'), 'content-length': String(bytes.length) },
        body: bytes,
        signal: AbortSignal.timeout(600_000),
      });
      const text = await res.text();
      if (res.ok) return (res.headers.get('etag') ?? digest.toString('hex')).replace(/"/g, '');
      const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? `HTTP ${res.status}`;
      lastError = new Error(`S3 answered ${code} (HTTP ${res.status}) to part ${part.partNumber}`);
      if (res.status === 403 && /expired/i.test(text)) url = undefined;
      else if (res.status < 500 && res.status !== 400) throw lastError;
    } catch (err) {
      if (err === lastError) throw err;
      lastError = err;
    }
    if (attempt < attempts) await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}
