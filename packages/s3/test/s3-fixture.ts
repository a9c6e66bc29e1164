import { after } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client, type S3Settings } from '@bundlefarm/s3';
import { startFaultProxy, type FaultProxy, type FaultProxyOptions } from '../../../test/helpers/fault-proxy.js';
import { createFreshBucket, listKeys as listFullKeys } from '../../../test/helpers/s3-objects.js';
import { s3rverClientSettings, startS3Server, type S3TestServer } from '../../../test/helpers/s3-server.js';

export { getObject } from '../../../test/helpers/s3-objects.js';

/**
 * One s3rver per test file (started lazily, stopped when the file ends), plus helpers to make fresh
 * buckets, clients (direct or through a fault proxy) and to look at what a bucket holds.
 */
let server: Promise<S3TestServer> | undefined;
const clients: S3Client[] = [];
const proxies: FaultProxy[] = [];

// registered at import, so on the file's root: an `after` called inside a test would run after that test
after(async () => {
  for (const c of clients) c.destroy();
  await Promise.all(proxies.map((p) => p.close()));
  await (await server)?.stop();
});

export function s3Server(): Promise<S3TestServer> {
  server ??= startS3Server();
  return server;
}

/** A new, empty bucket with a unique name. */
export async function freshBucket(label = 'b'): Promise<string> {
  return createFreshBucket(await s3Server(), label);
}

/** A client for the test server (or for `endpoint`, e.g. a proxy), closed when the file ends. */
export async function testClient(options: { endpoint?: string } & Partial<S3Settings> = {}): Promise<S3Client> {
  const srv = await s3Server();
  const client = createS3Client({ ...s3rverClientSettings(options.endpoint ?? srv.endpoint), maxAttempts: 1, ...options });
  clients.push(client);
  return client;
}

/** A fault proxy in front of the test server, closed when the file ends. */
export async function testProxy(options: Omit<FaultProxyOptions, 'target'> = {}): Promise<FaultProxy> {
  const proxy = await startFaultProxy({ target: (await s3Server()).endpoint, ...options });
  proxies.push(proxy);
  return proxy;
}

/**
 * Keys in `bucket` under `prefix`, with the prefix removed, sorted (unlike test/helpers' `listKeys`,
 * which keeps the whole key: these tests name keys relative to the prefix they bundled under).
 */
export async function listKeys(client: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  // every key starts with `prefix`, so dropping it keeps the order
  return (await listFullKeys(client, bucket, prefix)).map((k) => k.slice(prefix.length));
}

/** Fast retries for tests: the backoff is real, just short. */
export const quickRetry = { attempts: 4, baseDelayMs: 5, maxDelayMs: 40 };
