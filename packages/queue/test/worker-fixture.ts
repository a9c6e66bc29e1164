import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { REPO } from '../../../test/helpers/fixtures.js';

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

/** Registers a fresh access key pair with the in-process s3rver (which checks only that the key exists). */
export function registerS3Credentials(): { accessKeyId: string; secretAccessKey: string } {
  const { DUMMY_ACCOUNT } = createRequire(import.meta.url)('s3rver/lib/models/account.js') as {
    DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void };
  };
  const accessKeyId = `AKIA${randomBytes(8).toString('hex').toUpperCase()}`;
  const secretAccessKey = randomBytes(30).toString('base64url');
  DUMMY_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey);
  return { accessKeyId, secretAccessKey };
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

/** Every key of a Redis database with its type and value as text (for scans). */
export async function dumpRedis(url: string): Promise<string> {
  const redis = new Redis(url);
  try {
    const parts: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        let value: unknown;
        switch (type) {
          case 'string':
            value = await redis.getBuffer(key).then((b) => b?.toString('latin1'));
            break;
          case 'hash':
            value = await redis.hgetall(key);
            break;
          case 'list':
            value = await redis.lrange(key, 0, -1);
            break;
          case 'set':
            value = await redis.smembers(key);
            break;
          case 'zset':
            value = await redis.zrange(key, '0', '-1', 'WITHSCORES');
            break;
          case 'stream':
            value = await redis.xrange(key, '-', '+');
            break;
          default:
            value = `(${type})`;
        }
        parts.push(`${key} ${type} ${JSON.stringify(value)}`);
      }
    } while (cursor !== '0');
    return parts.join('\n');
  } finally {
    redis.disconnect();
  }
}

/** Forms a secret may take in text: as given, hex both cases, base64. */
export function secretForms(secret: Buffer | string): string[] {
  if (typeof secret === 'string') return [secret];
  return [secret.toString('hex'), secret.toString('hex').toUpperCase(), secret.toString('base64')];
}

/** The base64 lines of a PEM (each long enough not to occur by chance) and its whole body. */
export function pemForms(pem: string): string[] {
  const lines = pem.split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----'));
  return [lines.join(''), lines.join('\n'), ...lines];
}

/** Needles found in `haystack`, by label (empty when none). */
export function findSecrets(haystack: string, needles: Record<string, string[]>): string[] {
  const hits: string[] = [];
  for (const [label, forms] of Object.entries(needles)) {
    for (const f of forms) if (f.length >= 8 && haystack.includes(f)) hits.push(`${label} (${f.slice(0, 12)}…)`);
  }
  return hits;
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
