import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeOnExit } from './exit-cleanup.js';

/**
 * A real S3 server (s3rver, file-backed) on a free loopback port, for tests that must speak real HTTP
 * to a real S3 API. Clients use `s3rverClientSettings(endpoint)`: path-style addressing, the dummy
 * credentials s3rver accepts, and us-east-1 (s3rver reports every bucket there).
 *
 * What s3rver does NOT do (so tests must not rely on it): enforce ACLs, verify Content-MD5, honour
 * If-Match, or report a bucket location other than us-east-1. test/helpers/fault-proxy.ts fills those
 * gaps where a test needs them. One flaw of its own is mended here: see `withoutDirectoryRace`.
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
  store: { putBucket(name: string): Promise<unknown>; deleteObject(bucket: string, key: string): Promise<void> };
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

/**
 * Registers a fresh access key pair with s3rver (which checks only that the key exists), for tests that
 * scan for the secret: s3rver's default pair is too short and too common a string to search for. Every
 * s3rver of this process accepts it (the account is module state).
 */
export function registerS3Credentials(): { accessKeyId: string; secretAccessKey: string } {
  const { DUMMY_ACCOUNT } = createRequire(import.meta.url)('s3rver/lib/models/account.js') as {
    DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void };
  };
  const accessKeyId = `AKIA${randomBytes(8).toString('hex').toUpperCase()}`;
  const secretAccessKey = randomBytes(30).toString('base64url');
  DUMMY_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey);
  return { accessKeyId, secretAccessKey };
}

/**
 * s3rver keeps `a/b/key` as files in directory `a/b/`, and a delete removes the directories it left
 * empty (readdir, then rmdir): two deletes in one directory at once race, and the loser answers 500
 * (ENOENT, or ENOTEMPTY when a PUT refilled it) although its object is gone. S3 has no directories and
 * no such failure; a test that deletes a bundle's parts in parallel would see spurious 5xx (and, with
 * few retries, parts that could not be deleted). So the directory cleanup's own errors are ignored.
 */
function withoutDirectoryRace(store: S3rverInstance['store']): void {
  const deleteObject = store.deleteObject.bind(store);
  store.deleteObject = async (bucket, key) => {
    try {
      await deleteObject(bucket, key);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code !== 'ENOENT' && code !== 'ENOTEMPTY') throw err;
    }
  };
}

export async function startS3Server(): Promise<S3TestServer> {
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;
  const directory = await mkdtemp(join(tmpdir(), 'bundlefarm-s3rver-'));
  removeOnExit(directory); // even when the test file crashes before its after hooks
  // port 0: the kernel picks a free port, so parallel test files never collide
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, vhostBuckets: false });
  withoutDirectoryRace(server.store);
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
