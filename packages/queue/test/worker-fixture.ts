import { writeFile } from 'node:fs/promises';
import { DeleteObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { until as poll } from '@bundlefarm/testkit/poll.js';
import { listKeys } from '@bundlefarm/testkit/s3-objects.js';
import { spawnNodeScript, WORKER_BIN, type SpawnedProcess } from '@bundlefarm/testkit/spawned-process.js';

// shared with the service-wide tests (test/): the secrets scan, S3 credentials of our own, bucket listings
export { dumpRedis, findSecrets, pemForms, secretForms } from '@bundlefarm/testkit/secret-scan.js';
export { registerS3Credentials } from '@bundlefarm/testkit/s3-server.js';
export { getObject, listKeys } from '@bundlefarm/testkit/s3-objects.js';
export { WORKER_BIN } from '@bundlefarm/testkit/spawned-process.js';

/**
 * Helpers of the worker tests: real worker processes (`apps/worker/bin/bundlefarm-worker.js`) with
 * captured output, S3 credentials of our own registered with the in-process S3 front (so a scan for them
 * means something), bucket listings, and a scan of every Redis key and value.
 */

export type WorkerProcess = SpawnedProcess;

/** A worker process (waitForLog's timeout 20 s unless given; `stop` waits for the exit, however long). */
export function spawnWorker(env: Record<string, string>): WorkerProcess {
  return spawnNodeScript(WORKER_BIN, env, { name: 'worker', defaultTimeoutMs: 20_000 });
}

export async function writeJson(path: string, value: unknown): Promise<string> {
  await writeFile(path, JSON.stringify(value, null, 2));
  return path;
}

export async function headObject(client: S3Client, bucket: string, key: string): Promise<{ etag: string; lastModified: number }> {
  const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return { etag: out.ETag ?? '', lastModified: out.LastModified?.getTime() ?? 0 };
}

export async function emptyBucket(client: S3Client, bucket: string): Promise<void> {
  for (const key of await listKeys(client, bucket)) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
}

/** `until` with these tests' defaults: 20 s, every 25 ms. */
export function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, everyMs = 25): Promise<T> {
  return poll(what, fn, timeoutMs, everyMs);
}
