import { after } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client, type S3Settings } from '@bundlefarm/s3';
import { startFaultProxy, type FaultProxy, type FaultProxyOptions } from '@bundlefarm/testkit/fault-proxy.js';
import type { S3FrontBucketOptions, S3FrontOptions } from '@bundlefarm/s3-local';
import { createFreshBucket, listKeys as listFullKeys } from '@bundlefarm/testkit/s3-objects.js';
import { s3rverClientSettings, startS3Server, type S3TestServer } from '@bundlefarm/testkit/s3-server.js';

export { getObject } from '@bundlefarm/testkit/s3-objects.js';

/**
 * One S3 front per test file (started lazily, stopped when the file ends), plus helpers to make fresh
 * buckets, clients (direct or through a fault proxy) and to look at what a bucket holds. Buckets,
 * clients and proxies are in us-east-1 unless given a region: a client of another region reaches that
 * region's endpoint, and signs for it.
 */
let server: Promise<S3TestServer> | undefined;
const servers: Array<Promise<S3TestServer>> = [];
const clients: S3Client[] = [];
const proxies: FaultProxy[] = [];

// registered at import, so on the file's root: an `after` called inside a test would run after that test
after(async () => {
  for (const c of clients) c.destroy();
  await Promise.all(proxies.map((p) => p.close()));
  await Promise.all(servers.map(async (s) => (await s).stop()));
});

export function s3Server(): Promise<S3TestServer> {
  server ??= testServer();
  return server;
}

/** Another S3 front of its own (e.g. one that takes more canned ACLs), stopped when the file ends. */
export function testServer(options: S3FrontOptions = {}): Promise<S3TestServer> {
  const started = startS3Server(options);
  servers.push(started);
  return started;
}

/** A new, empty bucket with a unique name (in us-east-1 unless `options.region`). */
export async function freshBucket(label = 'b', options: S3FrontBucketOptions = {}): Promise<string> {
  return createFreshBucket(await s3Server(), label, options);
}

/** A client of `region` (default us-east-1) for that region's endpoint of the test server, or for `endpoint` (e.g. a proxy); closed when the file ends. */
export async function testClient(options: { endpoint?: string; server?: S3TestServer } & Partial<S3Settings> = {}): Promise<S3Client> {
  const { server: srv = await s3Server(), ...settings } = options;
  const region = settings.region ?? 'us-east-1';
  const endpoint = settings.endpoint ?? (await srv.front.openRegion(region));
  const client = createS3Client({ ...s3rverClientSettings(endpoint, region), maxAttempts: 1, ...settings, endpoint });
  clients.push(client);
  return client;
}

/** A fault proxy in front of the test server's endpoint for `region` (default us-east-1), closed when the file ends. */
export async function testProxy(options: Omit<FaultProxyOptions, 'target'> & { region?: string; server?: S3TestServer } = {}): Promise<FaultProxy> {
  const { region = 'us-east-1', server: srv = await s3Server(), ...proxyOptions } = options;
  const proxy = await startFaultProxy({ target: await srv.front.openRegion(region), ...proxyOptions });
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
