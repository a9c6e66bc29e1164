import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '@bundlefarm/s3';
import { REPO } from './fixtures.js';
import { testIdentity, writeIdentity } from './identity.js';
import { freePort, startRedis, type TestRedis } from './redis-server.js';
import { registerS3Credentials, startS3Server, type S3TestServer } from './s3-server.js';
import { tempDir } from './temp-dir.js';
import type { GeneratedIdentity } from '@bundlefarm/format';

/**
 * The service as it is deployed, every part a real process of its own: redis-server, the API
 * (apps/api/bin/bundlefarm-api.js, configured through BUNDLEFARM_* variables) and worker processes
 * (apps/worker/bin/bundlefarm-worker.js). s3rver runs in the test process (it has to: its accounts are
 * module state), with an access key pair of the test's own. Secrets (API token, webhook secret, admin
 * password, S3 secret) are random per run, so a scan for them cannot hit by coincidence.
 *
 * Everything is stopped, and its directories removed, when the test file ends.
 */
export const API_BIN = join(REPO, 'apps', 'api', 'bin', 'bundlefarm-api.js');
export const WORKER_BIN = join(REPO, 'apps', 'worker', 'bin', 'bundlefarm-worker.js');
export const ACCOUNT = '123456789012';

export interface ServiceProcess {
  readonly child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** The complete output lines that are JSON objects (pino log records). */
  records(): Array<Record<string, unknown>>;
  /** Resolves with the first line matching (earlier output included); rejects after `timeoutMs` or when the process exits. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` (default SIGTERM) and waits for the exit; SIGKILL if it takes longer than `killAfterMs`. */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * A node process of the repository with its output captured. Log lines are scanned as they come, each
 * once (a load test writes thousands: re-scanning the whole output per chunk would cost the test
 * process more and more CPU, and the test measures latencies).
 */
export function spawnService(bin: string, env: Record<string, string>, defaultTimeoutMs = 30_000): ServiceProcess {
  const child = spawn(process.execPath, [bin], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const lines: string[] = [];
  let partial = { stdout: '', stderr: '' };
  const listeners = new Set<(line: string) => void>();
  const onData = (stream: 'stdout' | 'stderr') => (d: Buffer) => {
    const text = d.toString('utf8');
    out += text;
    const pieces = (partial[stream] + text).split('\n');
    partial = { ...partial, [stream]: pieces.pop() ?? '' };
    for (const line of pieces) {
      lines.push(line);
      for (const l of listeners) l(line);
    }
  };
  child.stdout!.on('data', onData('stdout'));
  child.stderr!.on('data', onData('stderr'));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    child,
    output: () => out,
    records() {
      return lines.flatMap((l) => {
        if (!l.startsWith('{')) return [];
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
    },
    waitForLog(pattern, timeoutMs = defaultTimeoutMs) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const done = (): void => {
          clearTimeout(deadline);
          listeners.delete(listener);
        };
        const listener = (line: string): void => {
          if (!pattern.test(line)) return;
          done();
          resolve(line);
        };
        const deadline = setTimeout(() => {
          done();
          reject(new Error(`no log line matching ${pattern} within ${timeoutMs} ms; output:\n${out}`));
        }, timeoutMs);
        listeners.add(listener);
        void exited.then(() => {
          if (!listeners.has(listener)) return;
          done();
          reject(new Error(`${bin} exited before a log line matched ${pattern}; output:\n${out}`));
        });
      });
    },
    exited,
    async stop(signal = 'SIGTERM', killAfterMs = 15_000) {
      if (running()) child.kill(signal);
      const timer = setTimeout(() => running() && child.kill('SIGKILL'), killAfterMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
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
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; text: string; json: any }>;
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
      s3: {
        endpoint: s3.endpoint,
        forcePathStyle: true,
        accessKeyIdEnv: 'TEST_S3_KEY_ID',
        secretAccessKeyEnv: 'TEST_S3_SECRET',
        retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 100 },
      },
      concurrency: 1,
      threads: 1,
      shutdownGraceMs: 1_000,
      ...options.workerConfig,
    }),
  );
  const workerEnv = {
    BUNDLEFARM_REDIS_URL: redis.url,
    BUNDLEFARM_QUEUE_PREFIX: prefix,
    BUNDLEFARM_CONFIG: configFile,
    BUNDLEFARM_LOG_LEVEL: 'info',
    TEST_S3_KEY_ID: credentials.accessKeyId,
    TEST_S3_SECRET: credentials.secretAccessKey,
  };

  let rulesEnv: Record<string, string> = {};
  if (options.webhookRules !== undefined) {
    const rulesFile = join(dir, 'rules.json');
    await writeFile(rulesFile, JSON.stringify(options.webhookRules));
    rulesEnv = { BUNDLEFARM_WEBHOOK_RULES: rulesFile };
  }
  const apiEnv = {
    BUNDLEFARM_API_TOKENS: secrets.apiToken,
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

  const startWorker = async (): Promise<ServiceProcess> => {
    const w = spawnService(WORKER_BIN, workerEnv);
    workers.push(w);
    await w.waitForLog(/"msg":"worker started"/);
    return w;
  };
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
    async bucket(label) {
      const name = `${label}-${randomBytes(4).toString('hex')}`;
      await s3.createBucket(name);
      return name;
    },
    async request(method, path, body, headers = {}) {
      const res = await fetch(url + path, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, headers: res.headers, text, json };
    },
  };
}

/** Polls `fn` until it returns something other than undefined/false; throws after `timeoutMs`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
