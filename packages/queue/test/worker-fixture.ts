import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { REPO } from '../../../test/helpers/fixtures.js';

// shared with the service-wide tests (test/): the secrets scan and s3rver credentials of our own
export { dumpRedis, findSecrets, pemForms, secretForms } from '../../../test/helpers/secret-scan.js';
export { registerS3Credentials } from '../../../test/helpers/s3-server.js';

/**
 * Helpers of the worker tests: real worker processes (`apps/worker/bin/bundlefarm-worker.js`) with
 * captured output, S3 credentials of our own registered in the in-process s3rver (so a scan for them
 * means something), bucket listings, and a scan of every Redis key and value.
 */

export const WORKER_BIN = join(REPO, 'apps', 'worker', 'bin', 'bundlefarm-worker.js');

export interface WorkerProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves when a log line matches (or rejects after `timeoutMs`, showing the output). */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM (default) and wait for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnWorker(env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, [WORKER_BIN], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: Array<() => void> = [];
  const onData = (d: Buffer): void => {
    out += d.toString('utf8');
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      for (const w of waiters.splice(0)) w();
      resolve({ code, signal });
    }),
  );
  const proc: WorkerProcess = {
    child,
    output: () => out,
    exited,
    waitForLog(pattern, timeoutMs = 20_000) {
      return new Promise<string>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`no log line matching ${pattern} within ${timeoutMs} ms; output:\n${out}`)), timeoutMs);
        const check = (): void => {
          const line = out.split('\n').find((l) => pattern.test(l));
          if (line !== undefined) {
            clearTimeout(deadline);
            resolve(line);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            clearTimeout(deadline);
            reject(new Error(`worker exited (${child.exitCode ?? child.signalCode}) before a log line matched ${pattern}; output:\n${out}`));
          } else {
            waiters.push(check);
          }
        };
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  return proc;
}

export async function writeJson(path: string, value: unknown): Promise<string> {
  await writeFile(path, JSON.stringify(value, null, 2));
  return path;
}

export async function listKeys(client: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of out.Contents ?? []) keys.push(o.Key!);
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

export async function getObject(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

export async function headObject(client: S3Client, bucket: string, key: string): Promise<{ etag: string; lastModified: number }> {
  const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return { etag: out.ETag ?? '', lastModified: out.LastModified?.getTime() ?? 0 };
}

export async function emptyBucket(client: S3Client, bucket: string): Promise<void> {
  for (const key of await listKeys(client, bucket)) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
}

export async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
