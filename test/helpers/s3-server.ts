import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real S3 server (s3rver, file-backed) on a free loopback port, for tests that must speak real HTTP
 * to a real S3 API. Clients use `s3rverClientSettings(endpoint)`: path-style addressing, the dummy
 * credentials s3rver accepts, and us-east-1 (s3rver reports every bucket there).
 *
 * What s3rver does NOT do (so tests must not rely on it): enforce ACLs, verify Content-MD5, honour
 * If-Match, or report a bucket location other than us-east-1. test/helpers/fault-proxy.ts fills those
 * gaps where a test needs them.
 */
export interface S3TestServer {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  port: number;
  /** Where s3rver keeps the buckets (removed by `stop`). */
  directory: string;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** The subset of s3rver 3.x this helper uses (it ships no type declarations). */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  store: { putBucket(name: string): Promise<unknown> };
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  /** Path-style only: the tests never use virtual-hosted bucket names. */
  vhostBuckets: boolean;
}) => S3rverInstance;

export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** Settings for `createS3Client` (from @bundlefarm/s3) pointing at a test server or proxy. */
export function s3rverClientSettings(endpoint: string): {
  region: string;
  endpoint: string;
  forcePathStyle: true;
  credentials: { accessKeyId: string; secretAccessKey: string };
} {
  return { region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { ...S3RVER_CREDENTIALS } };
}

export async function startS3Server(): Promise<S3TestServer> {
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;
  const directory = await mkdtemp(join(tmpdir(), 'bundlefarm-s3rver-'));
  // port 0: the kernel picks a free port, so parallel test files never collide
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, vhostBuckets: false });
  let address: AddressInfo;
  try {
    address = await server.run();
  } catch (err) {
    await rm(directory, { recursive: true, force: true });
    throw err;
  }
  const port = address.port;
  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    directory,
    async createBucket(name: string) {
      await server.store.putBucket(name);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
