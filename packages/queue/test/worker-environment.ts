import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { Queue, QueueEvents } from 'bullmq';
import type { GeneratedIdentity } from '@bundlefarm/format';
import { BUNDLE_QUEUE, DEFAULT_PREFIX, type BundleJobData, type BundleJobProgress, type BundleJobResult } from '@bundlefarm/queue';
import { EC2_CERTIFICATE_FILES, GOV_REGION, imageRootWith, workerProcessEnv, workerS3Section, writeEc2Certificates } from '@bundlefarm/testkit/environment-setup.js';
import { startFaultProxy, type FaultProxy } from '@bundlefarm/testkit/fault-proxy.js';
import { testIdentity, writeIdentity } from '@bundlefarm/testkit/identity.js';
import { startRedis, type TestRedis } from '@bundlefarm/testkit/redis-server.js';
import { createFreshBucket, regionClients } from '@bundlefarm/testkit/s3-objects.js';
import { startS3Server, type S3TestServer } from '@bundlefarm/testkit/s3-server.js';
import { workerStarted } from '@bundlefarm/testkit/spawned-process.js';
import { tempDir } from '@bundlefarm/testkit/temp-dir.js';
import { registerS3Credentials, spawnWorker, writeJson, type WorkerProcess } from './worker-fixture.js';

export { sha256File } from '@bundlefarm/testkit/file-hash.js';

/**
 * Everything an end-to-end worker test needs, real: a redis-server, the S3 front (endpoints for
 * us-east-1 and us-gov-west-1; a fault proxy in front of the latter's, which the workers use), an image
 * root with a 30 MiB image, the user identity, test EC2 certificates per partition (their private keys
 * stay here, to check which one a manifest was encrypted for), a worker configuration file, a BullMQ
 * Queue (as producer) and QueueEvents. Torn down when the test file ends.
 */
export interface WorkerEnvironment {
  redis: TestRedis;
  s3: S3TestServer;
  /** In front of the S3 front's us-gov-west-1 endpoint. */
  govProxy: FaultProxy;
  /** A us-east-1 client of the test itself (the tests' default key pair). */
  client: S3Client;
  /** A client of the test itself for `region`'s endpoint (us-east-1's is `client`). */
  clientFor(region: string): S3Client;
  /** A client of the test itself for the region `bucket` is in. */
  clientOf(bucket: string): S3Client;
  credentials: { accessKeyId: string; secretAccessKey: string };
  dir: string;
  imageRoot: string;
  /** A directory beside the root, never to be read by the worker. */
  outside: string;
  /** Relative path of the 30 MiB image in the root, and its SHA-256. */
  image: { path: string; size: number; sha256: string };
  user: GeneratedIdentity;
  ec2: { aws: GeneratedIdentity; gov: GeneratedIdentity };
  configFile: string;
  /** Env for a worker process. */
  workerEnv: Record<string, string>;
  queue: Queue<BundleJobData, BundleJobResult>;
  events: QueueEvents;
  /** Progress events per job id, in arrival order. */
  progress: Map<string, BundleJobProgress[]>;
  /** Creates a bucket with a fresh name, in us-east-1 unless `region`. */
  bucket(label: string, region?: string): Promise<string>;
  /** Takes every fault a test added off the proxy. */
  resetFaults(): void;
  startWorker(extraEnv?: Record<string, string>): Promise<WorkerProcess>;
}

export const IMAGE_SIZE = 30 * 1024 * 1024;

export async function workerEnvironment(config: Record<string, unknown> = {}): Promise<WorkerEnvironment> {
  const redis = await startRedis();
  const s3 = await startS3Server({ regions: [GOV_REGION] });
  const govProxy = await startFaultProxy({ target: s3.endpointFor(GOV_REGION) });
  const clients = regionClients(s3);
  const client = clients.clientFor('us-east-1');
  const workers: WorkerProcess[] = [];
  let queue: Queue | undefined;
  let events: QueueEvents | undefined;
  after(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await events?.close();
    await queue?.close();
    clients.destroy();
    await govProxy.close();
    await s3.stop();
    await redis.dispose();
  });

  const resetFaults = (): void => govProxy.clearFaults();

  const credentials = registerS3Credentials();
  const dir = await tempDir('bundlefarm-worker-test-');
  const { imageRoot, image } = await imageRootWith(dir, 'web-30m.img', IMAGE_SIZE, 7);
  const outside = join(dir, 'outside');
  await mkdir(outside);

  const user = testIdentity();
  const { key, cert } = await writeIdentity(dir, user);
  const ec2 = await writeEc2Certificates(dir);

  const configFile = await writeJson(join(dir, 'worker.json'), {
    identities: { release: { key, cert } },
    imageRoot: 'images',
    s3: workerS3Section(s3.endpoint, {
      maxAttempts: 1,
      retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 },
      partsInFlight: 2,
      regions: { 'us-gov-west-1': { endpoint: govProxy.endpoint } },
    }),
    ec2Certificates: EC2_CERTIFICATE_FILES,
    threads: 2,
    progressIntervalMs: 200,
    shutdownGraceMs: 300,
    lockDurationMs: 10_000,
    ...config,
  });
  const workerEnv = workerProcessEnv({ redisUrl: redis.url, configFile, logLevel: 'debug', credentials });

  const connection = { host: '127.0.0.1', port: redis.port };
  queue = new Queue<BundleJobData, BundleJobResult>(BUNDLE_QUEUE, { connection, prefix: DEFAULT_PREFIX });
  events = new QueueEvents(BUNDLE_QUEUE, { connection, prefix: DEFAULT_PREFIX });
  await events.waitUntilReady();
  const progress = new Map<string, BundleJobProgress[]>();
  events.on('progress', ({ jobId, data }) => {
    const list = progress.get(jobId) ?? [];
    list.push(data as unknown as BundleJobProgress);
    progress.set(jobId, list);
  });

  return {
    redis,
    s3,
    govProxy,
    client,
    clientFor: clients.clientFor,
    clientOf: clients.clientOf,
    credentials,
    dir,
    imageRoot,
    outside,
    image,
    user,
    ec2,
    configFile,
    workerEnv,
    queue: queue as Queue<BundleJobData, BundleJobResult>,
    events,
    progress,
    bucket: (label, region) => createFreshBucket(s3, label, region !== undefined ? { region } : {}),
    resetFaults,
    startWorker: (extraEnv = {}) => workerStarted(spawnWorker({ ...workerEnv, ...extraEnv }), workers),
  };
}
