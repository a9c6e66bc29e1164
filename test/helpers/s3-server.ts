import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { removeOnExit } from './exit-cleanup.js';
import {
  registerProcessCredentials,
  S3Front,
  type RequestLog,
  type S3FrontBucketOptions,
  type S3FrontCredentials,
  type S3FrontOptions,
} from '@bundlefarm/s3-local';

/*
 * The S3 server of the tests: the S3 front (@bundlefarm/s3-local, packages/s3-local), which checks every request as
 * Amazon S3 does — signatures (SigV4, presigned, chunked; SigV2), regions (a bucket lives in one; one
 * endpoint per region; 301/400 for the wrong one), Content-MD5 and checksums, ACLs, anonymous access —
 * with s3rver behind it keeping the bytes. Clients use `s3rverClientSettings(endpoint, region)`:
 * path-style addressing and the test key pair every front of the process accepts.
 *
 * A bucket is created in the default region (us-east-1) unless told otherwise:
 * `s3.createBucket(name, { region: 'us-gov-west-1' })`, then reach it at `s3.endpointFor(region)` with
 * a client of that region. `s3.requests` records every request (see RequestLog).
 */
export interface S3TestServer {
  /** `http://127.0.0.1:PORT`: the default region's (us-east-1's) endpoint. */
  endpoint: string;
  port: number;
  /** Where the store keeps the buckets (removed by `stop`). */
  directory: string;
  /** The front itself: endpoints per region, credentials, object ACLs. */
  front: S3Front;
  /** Every request answered, in order (also `front.requests`). */
  requests: RequestLog;
  /** The endpoint of `region` (open at start via `regions`, or opened by creating a bucket there). */
  endpointFor(region: string): string;
  /** Creates a bucket (default: in us-east-1, owned by the test account, ACLs enabled, private). */
  createBucket(name: string, options?: S3FrontBucketOptions): Promise<void>;
  stop(): Promise<void>;
}

/** The key pair of the tests (the name is s3rver's, which the tests used before the front). */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
registerProcessCredentials(S3RVER_CREDENTIALS);

/** Settings for `createS3Client` (from @bundlefarm/s3) pointing at a test server or proxy: path style, the tests' key pair. */
export function s3rverClientSettings(
  endpoint: string,
  region = 'us-east-1',
): {
  region: string;
  endpoint: string;
  forcePathStyle: true;
  credentials: { accessKeyId: string; secretAccessKey: string };
} {
  return { region, endpoint, forcePathStyle: true, credentials: { ...S3RVER_CREDENTIALS } };
}

/**
 * Registers a fresh access key pair that every S3 front of this process accepts, for tests that scan
 * for the secret (the default pair is too short and too common a string to search for) or that tell
 * callers apart by key. `account` defaults to the account that owns the tests' buckets.
 */
export function registerS3Credentials(options: { account?: string } = {}): { accessKeyId: string; secretAccessKey: string } {
  const credentials: S3FrontCredentials = {
    accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString('base64url'),
    ...(options.account !== undefined ? { account: options.account } : {}),
  };
  registerProcessCredentials(credentials);
  return { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey };
}

export async function startS3Server(options: S3FrontOptions = {}): Promise<S3TestServer> {
  const front = await S3Front.start(options);
  removeOnExit(front.directory); // even when the test file crashes before its after hooks
  let stopped = false;
  return {
    endpoint: front.endpoint,
    port: Number(new URL(front.endpoint).port) satisfies AddressInfo['port'],
    directory: front.directory,
    front,
    requests: front.requests,
    endpointFor: (region) => front.endpointFor(region),
    createBucket: (name, bucketOptions) => front.createBucket(name, bucketOptions),
    async stop() {
      if (stopped) return;
      stopped = true;
      await front.close();
    },
  };
}
