/*
 * `bundlefarm serve --local`: the whole service on one machine — Redis (a redis-server of its own with
 * AOF in the data dir, or the one given), the local S3 (@bundlefarm/s3-local: signatures and
 * per-bucket regions checked as Amazon S3 does, so a two-region job with a GovCloud target behaves
 * as it would at AWS), the API process and N worker processes (apps/api, apps/worker, configured as
 * docs/service.md describes a deployment: principals file, job MAC key, worker.json). Secrets are made
 * on the first start and kept in the data dir's env file (0600). `stop` takes everything down in
 * order: the API (no new jobs), the workers (running jobs finish or go back to the queue), the S3
 * front, Redis last.
 *
 * Data dir layout: redis/ (AOF, redis.log), s3/ (the store), images/ (the image root), keys/ (the
 * throwaway signing identity `local`), logs/ (api.log, worker-N.log), worker.json, principals.json,
 * local.env, serve.pid (one service per data dir).
 */
import { createRequire } from 'node:module';
import { access, chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { generateSelfSignedIdentity } from '@bundlefarm/format';
import { hashToken } from '@bundlefarm/queue';
import { S3Front } from '@bundlefarm/s3-local';
import { freePort, portFree } from './free-port.js';
import { loadOrMakeSecrets, readLocalEnv, writeLocalEnv, type LocalEnv, type LocalSecrets } from './local-env-file.js';
import { LocalServiceError } from './local-service-error.js';
import { resolveLocalServiceOptions, type LocalBucket, type LocalServiceOptions, type ResolvedLocalServiceOptions } from './local-service-options.js';
import { startRedisProcess, type RedisProcess } from './redis-process.js';
import { spawnServiceChild, type ServiceChild } from './service-child.js';

/** The signing identity the local workers have (a throwaway self-signed pair in DATA_DIR/keys). */
export const LOCAL_IDENTITY = 'local';
/** How long a stopping worker lets its running jobs finish before handing them back. */
const WORKER_SHUTDOWN_GRACE_MS = 10_000;

export interface LocalService {
  dataDir: string;
  apiUrl: string;
  /** Bull Board (admin login: `secrets.adminUser` / `secrets.adminPassword`). */
  boardUrl: string;
  /** The API's Prometheus metrics. */
  metricsUrl: string;
  /** Each worker's Prometheus metrics. */
  workerMetricsUrls: string[];
  /** Region → S3 endpoint. */
  s3Endpoints: Record<string, string>;
  buckets: LocalBucket[];
  redisUrl: string;
  /** Whether this service started the Redis it uses. */
  ownRedis: boolean;
  imageRoot: string;
  envFile: string;
  identity: { name: string; key: string; cert: string };
  secrets: LocalSecrets;
  /** True when any secret was made by this start (print them); false when all came from the env file. */
  secretsGenerated: boolean;
  /** Process ids of the processes started (API, workers, redis-server). */
  pids(): number[];
  /** Stops everything (idempotent). */
  stop(): Promise<void>;
  /** Resolves when a process of the service exited on its own (it is then not running as a whole). */
  readonly failed: Promise<string>;
}

export async function startLocalService(input: LocalServiceOptions): Promise<LocalService> {
  const o = resolveLocalServiceOptions(input);
  const dataDir = resolve(o.dataDir);
  const dirs = { redis: join(dataDir, 'redis'), s3: join(dataDir, 's3'), images: join(dataDir, 'images'), keys: join(dataDir, 'keys'), logs: join(dataDir, 'logs') };
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    for (const d of Object.values(dirs)) await mkdir(d, { recursive: true, mode: 0o700 });
    await chmod(dataDir, 0o700);
  } catch (err) {
    throw new LocalServiceError(`cannot use ${dataDir} as the data directory: ${(err as Error).message}`, { cause: err });
  }
  await claimDataDir(dataDir);

  const cleanups: Array<() => Promise<void>> = [async () => rm(join(dataDir, 'serve.pid'), { force: true })];
  const undo = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    const { secrets, generated } = await loadOrMakeSecrets(dataDir);
    const identity = await ensureIdentity(dirs.keys);

    let redis: RedisProcess | undefined;
    if (o.redisUrl === undefined) {
      redis = await startRedisProcess(dirs.redis, o.redisPort);
      const r = redis;
      cleanups.push(() => r.stop());
    }
    const redisUrl = o.redisUrl ?? redis!.url;

    const front = await startFront(o, dirs.s3, secrets);
    cleanups.push(() => front.close());
    const regions = regionsOf(o.buckets);
    const s3Endpoints = Object.fromEntries(regions.map((r) => [r, front.endpointFor(r)]));

    const principalsFile = join(dataDir, 'principals.json');
    await writeFile(
      principalsFile,
      JSON.stringify(
        {
          $comment: 'bundlefarm serve --local: one principal, the token in local.env; it may sign as `local`, write the local buckets and read the image root',
          principals: [
            {
              name: 'local',
              tokenHashes: [hashToken(secrets.apiToken)],
              identities: [LOCAL_IDENTITY],
              targets: o.buckets.map((b) => `${b.name}/**`),
              images: ['**'],
              canSeeOthers: true,
              canCancelOthers: true,
            },
          ],
        },
        null,
        2,
      ),
      { mode: 0o600 },
    );
    const workerConfigFile = join(dataDir, 'worker.json');
    const [first, ...others] = regions;
    await writeFile(
      workerConfigFile,
      JSON.stringify(
        {
          identities: { [LOCAL_IDENTITY]: { key: 'keys/local-key.pem', cert: 'keys/local-cert.pem' } },
          imageRoot: 'images',
          s3: {
            endpoint: s3Endpoints[first!],
            forcePathStyle: true,
            accessKeyIdEnv: 'BUNDLEFARM_LOCAL_S3_ACCESS_KEY_ID',
            secretAccessKeyEnv: 'BUNDLEFARM_LOCAL_S3_SECRET_ACCESS_KEY',
            imageRegion: first,
            regions: Object.fromEntries(others.map((r) => [r, { endpoint: s3Endpoints[r] }])),
          },
          concurrency: 1,
          shutdownGraceMs: WORKER_SHUTDOWN_GRACE_MS,
          metricsPort: 0,
        },
        null,
        2,
      ),
      { mode: 0o600 },
    );

    const trust = { BUNDLEFARM_PRINCIPALS_FILE: principalsFile, BUNDLEFARM_JOB_MAC_KEY: secrets.jobMacKey, BUNDLEFARM_REDIS_URL: redisUrl, BUNDLEFARM_LOG_LEVEL: o.logLevel };
    const bins = serviceBins();
    const api = await startApi(bins.api, o, {
      ...trust,
      BUNDLEFARM_ADMIN_USER: secrets.adminUser,
      BUNDLEFARM_ADMIN_PASSWORD: secrets.adminPassword,
      BUNDLEFARM_IMAGE_ROOT: dirs.images,
      BUNDLEFARM_S3_REGION: first!,
      BUNDLEFARM_S3_ENDPOINT: s3Endpoints[first!]!,
      BUNDLEFARM_S3_FORCE_PATH_STYLE: 'true',
      BUNDLEFARM_S3_ACCESS_KEY_ID: secrets.s3AccessKeyId,
      BUNDLEFARM_S3_SECRET_ACCESS_KEY: secrets.s3SecretAccessKey,
    }, join(dirs.logs, 'api.log'));
    cleanups.push(() => api.child.stop(25_000));

    const workerEnv = {
      ...trust,
      BUNDLEFARM_CONFIG: workerConfigFile,
      BUNDLEFARM_LOCAL_S3_ACCESS_KEY_ID: secrets.s3AccessKeyId,
      BUNDLEFARM_LOCAL_S3_SECRET_ACCESS_KEY: secrets.s3SecretAccessKey,
    };
    const workers: ServiceChild[] = [];
    cleanups.push(async () => {
      await Promise.all(workers.map((w) => w.stop(WORKER_SHUTDOWN_GRACE_MS + 15_000)));
    });
    const workerMetricsUrls: string[] = [];
    for (let i = 1; i <= o.workers; i++) {
      const w = spawnServiceChild(`worker ${i}`, bins.worker, workerEnv, join(dirs.logs, `worker-${i}.log`));
      workers.push(w);
      const line = await w.waitForLine(/"msg":"worker started"/, 60_000);
      const metrics = metricsUrlOf(line);
      if (metrics !== undefined) workerMetricsUrls.push(metrics);
    }

    const envFile = await writeLocalEnv(dataDir, {
      ...secrets,
      apiUrl: api.url,
      s3Endpoints,
      buckets: o.buckets,
      dataDir,
      imageRoot: dirs.images,
      identity: LOCAL_IDENTITY,
      identityKey: identity.key,
      identityCert: identity.cert,
    });

    const children = [api.child, ...workers];
    const failed = Promise.race(children.map((c) => c.exited.then(({ code, signal }) => `the ${c.name} exited (${signal ?? code}); its log: ${c.logFile}`)));
    let stopping: Promise<void> | undefined;
    return {
      dataDir,
      apiUrl: api.url,
      boardUrl: `${api.url}/admin/queues`,
      metricsUrl: `${api.url}/metrics`,
      workerMetricsUrls,
      s3Endpoints,
      buckets: [...o.buckets],
      redisUrl,
      ownRedis: redis !== undefined,
      imageRoot: dirs.images,
      envFile,
      identity: { name: LOCAL_IDENTITY, ...identity },
      secrets,
      secretsGenerated: generated,
      pids: () => [api.child.pid, ...workers.map((w) => w.pid), ...(redis ? [redis.pid] : [])],
      stop() {
        // the API first (nothing new comes in), then the workers, the S3 front, Redis last
        stopping ??= api.child.stop(25_000).then(undo);
        return stopping;
      },
      failed,
    };
  } catch (err) {
    await undo();
    throw err;
  }
}

/** Regions of the buckets, in the order they are first named (the first is the default region). */
function regionsOf(buckets: readonly LocalBucket[]): string[] {
  return [...new Set(buckets.map((b) => b.region))];
}

async function startFront(o: ResolvedLocalServiceOptions, directory: string, secrets: LocalSecrets): Promise<S3Front> {
  const regions = regionsOf(o.buckets);
  const ports = o.s3Port === 0 ? undefined : Object.fromEntries(regions.map((r, i) => [r, o.s3Port + i]));
  let front: S3Front;
  try {
    front = await S3Front.start({
      directory,
      host: o.host,
      defaultRegion: regions[0],
      regions: regions.slice(1),
      ...(ports ? { ports } : {}),
      credentials: [{ accessKeyId: secrets.s3AccessKeyId, secretAccessKey: secrets.s3SecretAccessKey, account: 'bundlefarm-local' }],
      processCredentials: false,
      recordRequests: false,
    });
  } catch (err) {
    if ((err as { code?: unknown }).code === 'EADDRINUSE') {
      throw new LocalServiceError(`a port of the local S3 (${o.s3Port}–${o.s3Port + regions.length - 1}) is taken: give another with --s3-port (0: any free ports)`, { cause: err });
    }
    throw err;
  }
  try {
    for (const b of o.buckets) await front.createBucket(b.name, { region: b.region, owner: 'bundlefarm-local', existing: 'adopt' });
  } catch (err) {
    await front.close();
    throw err;
  }
  return front;
}

async function startApi(bin: string, o: ResolvedLocalServiceOptions, env: Record<string, string>, logFile: string): Promise<{ child: ServiceChild; url: string }> {
  for (let attempt = 1; ; attempt++) {
    const port = o.apiPort === 0 ? await freePort(o.host) : o.apiPort;
    // another server on the port would answer /readyz for ours: refuse a taken port up front
    if (o.apiPort !== 0 && !(await portFree(o.host, port))) throw new LocalServiceError(`port ${port} is taken: give the API another with --port (0: any free port)`);
    const child = spawnServiceChild('API', bin, { ...env, BUNDLEFARM_API_HOST: o.host, BUNDLEFARM_API_PORT: String(port) }, logFile);
    const url = `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`;
    const deadline = Date.now() + 60_000;
    while (child.running && Date.now() < deadline) {
      const ready = await fetch(`${url}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      // the port answering may be someone else's: ours is still running and says ready
      if (ready && child.running) return { child, url };
      await new Promise((r) => setTimeout(r, 100));
    }
    await child.stop(5_000, 'SIGKILL');
    const taken = /EADDRINUSE/.test(child.tail(50));
    if (taken && o.apiPort === 0 && attempt < 3) continue;
    if (taken) throw new LocalServiceError(`port ${port} is taken: give the API another with --port (0: any free port)`);
    throw new LocalServiceError(`the API did not start (log: ${logFile}):\n${child.tail()}`);
  }
}

/** The API's and the worker's executables, from the workspace packages (apps/api, apps/worker). */
function serviceBins(): { api: string; worker: string } {
  const require = createRequire(import.meta.url);
  return {
    api: require.resolve('@bundlefarm/api-app/bin/bundlefarm-api.js'),
    worker: require.resolve('@bundlefarm/worker-app/bin/bundlefarm-worker.js'),
  };
}

/** The throwaway signing identity in `keysDir` (made on the first start). */
async function ensureIdentity(keysDir: string): Promise<{ key: string; cert: string }> {
  const key = join(keysDir, 'local-key.pem');
  const cert = join(keysDir, 'local-cert.pem');
  const exists = await Promise.all([access(key), access(cert)]).then(
    () => true,
    () => false,
  );
  if (!exists) {
    const identity = generateSelfSignedIdentity({ commonName: 'bundlefarm serve --local (throwaway)' });
    await writeFile(key, identity.privateKeyPem, { mode: 0o600 });
    await writeFile(cert, identity.certificatePem);
  }
  return { key, cert };
}

/** One service per data dir: serve.pid names the supervisor; a live one there is an error. */
async function claimDataDir(dataDir: string): Promise<void> {
  const pidFile = join(dataDir, 'serve.pid');
  const previous = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (Number.isInteger(previous) && previous > 0 && previous !== process.pid && alive(previous)) {
    throw new LocalServiceError(`a local service (pid ${previous}) already runs on ${dataDir}: stop it first (Ctrl-C, or kill -TERM ${previous}), or give another --data-dir`);
  }
  await writeFile(pidFile, `${process.pid}\n`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: unknown }).code === 'EPERM';
  }
}

/** The `metrics` URL a worker's "worker started" record names (its top-level field, not the configuration's). */
function metricsUrlOf(line: string): string | undefined {
  try {
    const record = JSON.parse(line) as { metrics?: unknown };
    return typeof record.metrics === 'string' ? record.metrics : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The local service running on `dataDir` (its supervisor alive, its API ready), as its env file
 * describes it; undefined when none runs there.
 */
export async function runningLocalService(dataDir: string): Promise<LocalEnv | undefined> {
  const env = await readLocalEnv(resolve(dataDir));
  if (!env) return undefined;
  const pid = Number((await readFile(join(resolve(dataDir), 'serve.pid'), 'utf8').catch(() => '')).trim());
  if (!(Number.isInteger(pid) && pid > 0 && alive(pid))) return undefined;
  const ready = await fetch(`${env.apiUrl}/readyz`, { signal: AbortSignal.timeout(5_000) }).then(
    (r) => r.status === 200,
    () => false,
  );
  return ready ? env : undefined;
}
