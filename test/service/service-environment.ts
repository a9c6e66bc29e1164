import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { GeneratedIdentity } from '@bundlefarm/format';
import { BUNDLE_QUEUE, type BundleJobData, type BundleJobResult } from '@bundlefarm/queue';
import { buildServer, type ServerConfig } from '@bundlefarm/server';
import { apiRequest } from '../helpers/api-request.js';
import { EC2_CERTIFICATE_FILES, GOV_REGION, imageRootWith, workerProcessEnv, workerS3Section, writeEc2Certificates } from '../helpers/environment-setup.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { testIdentity, writeIdentity } from '../helpers/identity.js';
import { until as poll } from '../helpers/poll.js';
import { startRedis, type RedisServerOptions, type TestRedis } from '../helpers/redis-server.js';
import { createFreshBucket, regionClients } from '../helpers/s3-objects.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { spawnNodeScript, WORKER_BIN, workerStarted, type SpawnedProcess, type SpawnOptions } from '../helpers/spawned-process.js';
import { tempDir } from '../helpers/temp-dir.js';

// kept importable from here, where the service tests have always found them
export { sha256File } from '../helpers/file-hash.js';
export { getObject, listKeys } from '../helpers/s3-objects.js';

/**
 * The whole service, real, for end-to-end tests: a redis-server, the S3 front (endpoints for us-east-1
 * and us-gov-west-1, with a fault proxy in front of the latter's; gov buckets live in us-gov-west-1), an image
 * root with a 60 MiB image, the user identity, test EC2 certificates per partition (their private keys
 * stay here, to check which one each manifest was encrypted for), a worker configuration, webhook rules,
 * the API (buildServer, listening on a free port) and worker processes spawned from
 * apps/worker/bin/bundlefarm-worker.js. Torn down when the test file ends.
 */
export const TOKEN = 'test-token-0123456789abcdef';
export const OTHER_TOKEN = 'second-token-fedcba9876543210';
export const GITHUB_SECRET = 'github-hook-secret-0123456789';
export const GITLAB_TOKEN = 'gitlab-hook-token-0123456789';
export const ADMIN = { user: 'admin', password: 'admin-password-123' };
export const ACCOUNT = '123456789012';
export const IMAGE_SIZE = 60 * 1024 * 1024;
export const BODY_LIMIT = 16 * 1024;
export const PREFIX = 'bfsvc';

export type WorkerProcess = SpawnedProcess;

export interface ServiceEnvironment {
  redis: TestRedis;
  s3: S3TestServer;
  /** In front of the S3 front's us-gov-west-1 endpoint: how the workers reach that region. */
  govProxy: FaultProxy;
  /** In front of the us-east-1 endpoint — used by the workers only with `proxyEast` (no faults until a test adds some). */
  eastProxy: FaultProxy;
  /** The API's own S3 endpoint for size checks (a proxy, so a test can fake a HeadObject). */
  apiS3Proxy: FaultProxy;
  /** A us-east-1 client of the test itself (the tests' key pair). */
  client: S3Client;
  /** A client of the test itself for `region`'s endpoint (us-east-1's is `client`). */
  clientFor(region: string): S3Client;
  /** A client of the test itself for the region `bucket` is in. */
  clientOf(bucket: string): S3Client;
  dir: string;
  imageRoot: string;
  image: { path: string; size: number; sha256: string };
  user: GeneratedIdentity;
  userKey: string;
  userCert: string;
  ec2: { aws: GeneratedIdentity; gov: GeneratedIdentity };
  workerEnv: Record<string, string>;
  rulesFile: string;
  app: FastifyInstance;
  /** http://127.0.0.1:PORT */
  url: string;
  /** An independent BullMQ view of the queue (not the API's producer). */
  queue: Queue<BundleJobData, BundleJobResult>;
  /** Creates a bucket with a fresh name, in us-east-1 unless `region`. */
  bucket(label: string, region?: string): Promise<string>;
  /** Takes every fault a test added off the proxies. */
  resetFaults(): void;
  /**
   * A worker process (the environment's worker env, plus `extraEnv`), once it logged "worker started";
   * `spawn.wrap` runs it under a command prefix (e.g. `ip netns exec NS`).
   */
  startWorker(extraEnv?: Record<string, string>, spawn?: Pick<SpawnOptions, 'wrap'>): Promise<WorkerProcess>;
  /** fetch against the API with the bearer token (JSON body when given). */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; json: any }>;
  counts(): Promise<Record<string, number>>;
  /** Every job in the queue, any state. */
  jobCount(): Promise<number>;
}

export interface ServiceOptions {
  /** Overrides of the API configuration. */
  server?: Partial<ServerConfig>;
  /** How Redis runs (e.g. `appendOnly` for tests that restart it and expect the queue back). */
  redis?: RedisServerOptions;
  /** Top-level settings merged over the workers' configuration file (e.g. `lockDurationMs`). */
  worker?: Record<string, unknown>;
  /** Workers reach us-east-1 through `eastProxy`, so a test can hold or fail its requests. */
  proxyEast?: boolean;
}

export async function serviceEnvironment(options: ServiceOptions = {}): Promise<ServiceEnvironment> {
  const redis = await startRedis(options.redis);
  const s3 = await startS3Server({ regions: [GOV_REGION] });
  const govProxy = await startFaultProxy({ target: s3.endpointFor(GOV_REGION) });
  const eastProxy = await startFaultProxy({ target: s3.endpoint });
  const resetFaults = (): void => {
    eastProxy.clearFaults();
    govProxy.clearFaults();
  };
  const apiS3Proxy = await startFaultProxy({ target: s3.endpoint });
  const clients = regionClients(s3);
  const client = clients.clientFor('us-east-1');
  const workers: WorkerProcess[] = [];
  let app: FastifyInstance | undefined;
  let queue: Queue<BundleJobData, BundleJobResult> | undefined;
  after(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await app?.close();
    await queue?.close();
    clients.destroy();
    await govProxy.close();
    await eastProxy.close();
    await apiS3Proxy.close();
    await s3.stop();
    await redis.dispose();
  });

  const dir = await tempDir('bundlefarm-service-test-');
  const { imageRoot, image } = await imageRootWith(dir, 'os-60m.img', IMAGE_SIZE, 11);

  const user = testIdentity();
  const { key: userKey, cert: userCert } = await writeIdentity(dir, user);
  const ec2 = await writeEc2Certificates(dir);

  const configFile = join(dir, 'worker.json');
  await writeFile(
    configFile,
    JSON.stringify({
      identities: { release: { key: userKey, cert: userCert } },
      imageRoot: 'images',
      s3: workerS3Section(s3.endpoint, {
        maxAttempts: 1,
        retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 },
        regions: {
          'us-gov-west-1': { endpoint: govProxy.endpoint },
          ...(options.proxyEast ? { 'us-east-1': { endpoint: eastProxy.endpoint } } : {}),
        },
      }),
      ec2Certificates: EC2_CERTIFICATE_FILES,
      threads: 2,
      progressIntervalMs: 100,
      shutdownGraceMs: 300,
      lockDurationMs: 10_000,
      ...options.worker,
    }),
  );
  const workerEnv = workerProcessEnv({ redisUrl: redis.url, prefix: PREFIX, configFile, logLevel: 'info', credentials: S3RVER_CREDENTIALS });

  const rulesFile = join(dir, 'rules.json');
  await writeFile(rulesFile, JSON.stringify(await webhookRules()));

  app = await buildServer(
    {
      apiTokens: [TOKEN, OTHER_TOKEN],
      githubWebhookSecrets: [GITHUB_SECRET],
      gitlabWebhookTokens: [GITLAB_TOKEN],
      webhookRulesFile: rulesFile,
      imageRoot,
      s3: { region: 'us-east-1', endpoint: apiS3Proxy.endpoint, forcePathStyle: true, credentials: { ...S3RVER_CREDENTIALS } },
      redisUrl: redis.url,
      queuePrefix: PREFIX,
      bodyLimit: BODY_LIMIT,
      admin: ADMIN,
      jobAttempts: 2,
      jobBackoffMs: 200,
      ...options.server,
    },
    { logger: false },
  );
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  queue = new Queue<BundleJobData, BundleJobResult>(BUNDLE_QUEUE, { connection: { host: '127.0.0.1', port: redis.port }, prefix: PREFIX });
  const q = queue;

  return {
    redis,
    s3,
    govProxy,
    eastProxy,
    apiS3Proxy,
    client,
    clientFor: clients.clientFor,
    clientOf: clients.clientOf,
    dir,
    imageRoot,
    image,
    user,
    userKey,
    userCert,
    ec2,
    workerEnv,
    rulesFile,
    app,
    url,
    queue: q,
    bucket: (label, region) => createFreshBucket(s3, label, region !== undefined ? { region } : {}),
    resetFaults,
    startWorker: (extraEnv = {}, spawn = {}) => workerStarted(spawnWorker({ ...workerEnv, ...extraEnv }, spawn), workers),
    async api(method, path, body, headers) {
      const { status, headers: responseHeaders, text, json } = await apiRequest(url, TOKEN, method, path, body, headers);
      // unlike service-processes' `request`, a body that is not JSON comes back as its text
      return { status, headers: responseHeaders, json: json === undefined ? text : json };
    },
    async counts() {
      return q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed');
    },
    async jobCount() {
      const c = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed');
      return Object.values(c).reduce((a, b) => a + b, 0);
    },
  };
}

/** The rules the tests' webhooks are matched with (the example file's shape, test buckets). */
async function webhookRules(): Promise<unknown> {
  const spec = (name: string) => ({
    name,
    image: 'os-60m.img',
    architecture: 'x86_64',
    accountId: ACCOUNT,
    identity: 'release',
    regions: [{ region: 'us-east-1', bucket: 'hook-bucket', prefix: '{{repository_name}}/{{sha7}}/' }],
  });
  return {
    rules: [
      { name: 'github-tags', provider: 'github', events: ['push'], when: { repository: 'acme/*', tag: 'v*' }, spec: spec('{{repository_name}}-{{tag}}') },
      {
        name: 'github-tag-created',
        provider: 'github',
        events: ['create'],
        when: { repository: 'acme/*', tag: 'v*' },
        spec: { ...spec('{{repository_name}}-{{tag}}'), regions: [{ region: 'us-east-1', bucket: 'hook-bucket', prefix: '{{repository_name}}/{{tag}}/' }] },
      },
      {
        name: 'github-ci',
        provider: 'github',
        events: ['workflow_run'],
        when: { action: 'completed', conclusion: 'success', branch: 'main', workflow: 'build-image' },
        spec: spec('{{repository_name}}-main-{{sha7}}'),
      },
      { name: 'github-broken', provider: 'github', events: ['push'], when: { branch: 'broken/*' }, spec: spec('{{tag}}') },
      { name: 'gitlab-tags', provider: 'gitlab', events: ['tag_push'], when: { tag: 'v*' }, spec: spec('{{repository_name}}-{{tag}}') },
    ],
  };
}

/** A worker process (waitForLog's timeout 30 s unless given; `stop` waits for the exit, however long). */
export function spawnWorker(env: Record<string, string>, spawn: Pick<SpawnOptions, 'wrap'> = {}): WorkerProcess {
  return spawnNodeScript(WORKER_BIN, env, { name: 'worker', ...spawn });
}

/** `until` with this environment's defaults: 60 s, every 50 ms. */
export function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000, everyMs = 50): Promise<T> {
  return poll(what, fn, timeoutMs, everyMs);
}

/** A job spec for the test image into the given targets. */
export function specFor(regions: Array<{ region: string; bucket: string; prefix?: string; [more: string]: unknown }>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { image: 'os-60m.img', architecture: 'x86_64', accountId: ACCOUNT, identity: 'release', regions, ...extra };
}
