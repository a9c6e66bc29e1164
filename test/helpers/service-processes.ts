import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '@bundlefarm/s3';
import { apiRequest, type ApiResponse } from './api-request.js';
import { workerProcessEnv, workerS3Section } from './environment-setup.js';
import { testIdentity, writeIdentity } from './identity.js';
import { freePort, startRedis, type TestRedis } from './redis-server.js';
import { createFreshBucket } from './s3-objects.js';
import { registerS3Credentials, startS3Server, type S3TestServer } from './s3-server.js';
import { API_BIN, WORKER_BIN, spawnNodeScript, workerStarted, type SpawnedProcess } from './spawned-process.js';
import { tempDir } from './temp-dir.js';
import type { GeneratedIdentity } from '@bundlefarm/format';

/**
 * The service as it is deployed, every part a real process of its own: redis-server, the API
 * (apps/api/bin/bundlefarm-api.js, configured through BUNDLEFARM_* variables) and worker processes
 * (apps/worker/bin/bundlefarm-worker.js). The S3 front runs in the test process (the key pairs it
 * accepts are registered there), with an access key pair of the test's own. Secrets (API token, webhook secret, admin
 * password, S3 secret) are random per run, so a scan for them cannot hit by coincidence.
 *
 * Everything is stopped, and its directories removed, when the test file ends.
 */
export { WORKER_BIN } from './spawned-process.js';
export { until } from './poll.js';
export const ACCOUNT = '123456789012';

export type ServiceProcess = SpawnedProcess;

/**
 * A node process of the repository with its output captured (see `spawnNodeScript`); `stop` sends
 * SIGKILL after 15 s unless told otherwise.
 */
export function spawnService(bin: string, env: Record<string, string>): ServiceProcess {
  return spawnNodeScript(bin, env, { killAfterMs: 15_000 });
}

export interface ApiProcess extends ServiceProcess {
  /** http://127.0.0.1:PORT */
  url: string;
}

/** Starts the API process on a free port; resolves once /readyz answers 200 (Redis reached). */
export async function startApiProcess(env: Record<string, string>): Promise<ApiProcess> {
  // freePort can race with another process taking the port: try again on a new one
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const proc = spawnService(API_BIN, { ...env, BUNDLEFARM_API_HOST: '127.0.0.1', BUNDLEFARM_API_PORT: String(port) });
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    let exitedEarly = false;
    void proc.exited.then(() => (exitedEarly = true));
    while (!exitedEarly && Date.now() < deadline) {
      const ready = await fetch(`${url}/readyz`).then((r) => r.status === 200, () => false);
      if (ready) return { ...proc, url };
      await new Promise((r) => setTimeout(r, 50));
    }
    await proc.stop('SIGKILL');
    if (attempt >= 3 || !/EADDRINUSE/.test(proc.output())) throw new Error(`the API did not become ready; output:\n${proc.output()}`);
  }
}

export interface ServiceSecrets {
  apiToken: string;
  githubWebhookSecret: string;
  adminPassword: string;
  s3: { accessKeyId: string; secretAccessKey: string };
}

export interface ServiceProcessesOptions {
  /** Worker processes to start (default 1). */
  workers?: number;
  /** Worker configuration file settings (over the defaults below). */
  workerConfig?: Record<string, unknown>;
  /** More API environment (BUNDLEFARM_KEEP_COMPLETED …). */
  apiEnv?: Record<string, string>;
  /** Webhook rules file content (default: none, every hook is ignored). */
  webhookRules?: unknown;
  /** Writes the image root's files before the API and workers start. */
  images?: (imageRoot: string) => Promise<void>;
  /**
   * A principals file (its content) for the API and the workers (BUNDLEFARM_PRINCIPALS_FILE); the API
   * then has no legacy BUNDLEFARM_API_TOKENS unless `legacyToken` says so.
   */
  principals?: unknown;
  /** Keep the legacy token (secrets.apiToken) next to the principals file (default: only without one). */
  legacyToken?: boolean;
  /** The job MAC key for the API and the workers (BUNDLEFARM_JOB_MAC_KEY; default none). */
  jobMacKey?: string;
}

export interface ServiceProcesses {
  redis: TestRedis;
  s3: S3TestServer;
  /** A client of the test itself (the test's own credentials). */
  client: S3Client;
  secrets: ServiceSecrets;
  prefix: string;
  dir: string;
  imageRoot: string;
  user: GeneratedIdentity;
  workerEnv: Record<string, string>;
  apiEnv: Record<string, string>;
  api: ApiProcess;
  workers: ServiceProcess[];
  startWorker(): Promise<ServiceProcess>;
  /** Creates a bucket with a fresh name. */
  bucket(label: string): Promise<string>;
  /** A request to the API with the bearer token (JSON body when given). */
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse>;
}

export async function serviceProcesses(options: ServiceProcessesOptions = {}): Promise<ServiceProcesses> {
  const redis = await startRedis();
  const s3 = await startS3Server();
  const credentials = registerS3Credentials();
  const client = createS3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials });
  const workers: ServiceProcess[] = [];
  let api: ApiProcess | undefined;
  // registered before tempDir's own hook, so processes stop before their directories go
  after(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await api?.stop('SIGTERM');
    client.destroy();
    await s3.stop();
    await redis.dispose();
  });

  const secrets: ServiceSecrets = {
    apiToken: `tok-${randomBytes(18).toString('hex')}`,
    githubWebhookSecret: `ghs-${randomBytes(18).toString('hex')}`,
    adminPassword: `adm-${randomBytes(12).toString('hex')}`,
    s3: credentials,
  };
  const prefix = `bf${randomBytes(3).toString('hex')}`;
  const dir = await tempDir('bundlefarm-processes-');
  const imageRoot = join(dir, 'images');
  await mkdir(imageRoot);
  await options.images?.(imageRoot);
  const user = testIdentity();
  const { key, cert } = await writeIdentity(dir, user);

  const configFile = join(dir, 'worker.json');
  await writeFile(
    configFile,
    JSON.stringify({
      identities: { release: { key, cert } },
      imageRoot: 'images',
      s3: workerS3Section(s3.endpoint, { retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 100 } }),
      concurrency: 1,
      threads: 1,
      shutdownGraceMs: 1_000,
      ...options.workerConfig,
    }),
  );
  const trustEnv: Record<string, string> = {};
  if (options.principals !== undefined) {
    const principalsFile = join(dir, 'principals.json');
    const content = typeof options.principals === 'function' ? (options.principals as (s: ServiceSecrets) => unknown)(secrets) : options.principals;
    await writeFile(principalsFile, JSON.stringify(content));
    trustEnv.BUNDLEFARM_PRINCIPALS_FILE = principalsFile;
  }
  if (options.jobMacKey !== undefined) trustEnv.BUNDLEFARM_JOB_MAC_KEY = options.jobMacKey;
  const workerEnv = { ...workerProcessEnv({ redisUrl: redis.url, prefix, configFile, logLevel: 'info', credentials }), ...trustEnv };

  let rulesEnv: Record<string, string> = {};
  if (options.webhookRules !== undefined) {
    const rulesFile = join(dir, 'rules.json');
    await writeFile(rulesFile, JSON.stringify(options.webhookRules));
    rulesEnv = { BUNDLEFARM_WEBHOOK_RULES: rulesFile };
  }
  const legacy = options.legacyToken ?? options.principals === undefined;
  const apiEnv = {
    ...(legacy ? { BUNDLEFARM_API_TOKENS: secrets.apiToken } : {}),
    ...trustEnv,
    BUNDLEFARM_GITHUB_WEBHOOK_SECRETS: secrets.githubWebhookSecret,
    BUNDLEFARM_ADMIN_USER: 'admin',
    BUNDLEFARM_ADMIN_PASSWORD: secrets.adminPassword,
    BUNDLEFARM_REDIS_URL: redis.url,
    BUNDLEFARM_QUEUE_PREFIX: prefix,
    BUNDLEFARM_IMAGE_ROOT: imageRoot,
    // the API's enqueue-time HeadObject of s3:// images, with the same credentials as the workers
    BUNDLEFARM_S3_ENDPOINT: s3.endpoint,
    BUNDLEFARM_S3_FORCE_PATH_STYLE: 'true',
    BUNDLEFARM_S3_ACCESS_KEY_ID: credentials.accessKeyId,
    BUNDLEFARM_S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    BUNDLEFARM_LOG_LEVEL: 'info',
    ...rulesEnv,
    ...options.apiEnv,
  };
  api = await startApiProcess(apiEnv);

  const startWorker = (): Promise<ServiceProcess> => workerStarted(spawnService(WORKER_BIN, workerEnv), workers);
  await Promise.all(Array.from({ length: options.workers ?? 1 }, () => startWorker()));

  const url = api.url;
  const token = secrets.apiToken;
  return {
    redis,
    s3,
    client,
    secrets,
    prefix,
    dir,
    imageRoot,
    user,
    workerEnv,
    apiEnv,
    api,
    workers,
    startWorker,
    bucket: (label) => createFreshBucket(s3, label),
    request: (method, path, body, headers) => apiRequest(url, token, method, path, body, headers),
  };
}
