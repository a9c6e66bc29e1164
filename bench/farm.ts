/**
 * `npm run bench:farm`: the service's throughput against the CLI on the same images, in one run.
 *
 *   npm run bench:farm -- [--jobs 24] [--size-mib 256] [--images 4] [--workers 1,2] [--regions 2]
 *                         [--threads N] [--level 6] [--dir CACHE_DIR]
 *
 * Everything real, on this machine: redis-server (a fresh one), s3rver (in this process), the API and
 * worker processes as deployed (apps/api, apps/worker). For each worker count W: W workers (each one
 * job at a time on a pool of `--threads`, default the number of cores), N jobs enqueued at once through
 * POST /v1/bundles, each bundling a 256 MiB compressible image into two regions (us-east-1 on s3rver,
 * us-gov-west-1 on s3rver behind a proxy that answers GetBucketLocation for that region). The bench
 * itself sends no Redis command while the jobs run (it follows the workers' log lines), so
 * `INFO commandstats` before and after counts what the service spends per job.
 *
 * The baseline: the same N images bundled one after the other with the CLI (`bundlefarm bundle`, one
 * process per image, output to a local directory), before and after each farm run (the machine's speed
 * drifts). The ratio = farm jobs/hour ÷ CLI images/hour (mean of the CLI runs just before and after
 * it): the service's overhead (queue, HTTP, S3 through s3rver on the same cores, a second region). Prints a table and writes bench-results/farm-*.json.
 */
import { spawn } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { DEFAULT_LEVEL } from '@bundlefarm/engine';
import { generateSelfSignedIdentity } from '@bundlefarm/format';
import { answerAsGovWest } from '../test/helpers/environment-setup.js';
import { startFaultProxy, type FaultProxy } from '../test/helpers/fault-proxy.js';
import { parseExposition } from '../test/helpers/prometheus-text.js';
import { startRedis, freePort, type TestRedis } from '../test/helpers/redis-server.js';
import { registerS3Credentials, startS3Server, type S3TestServer } from '../test/helpers/s3-server.js';
import { API_BIN, WORKER_BIN, spawnNodeScript, type SpawnedProcess } from '../test/helpers/spawned-process.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(REPO, 'apps', 'cli', 'bin', 'bundlefarm.js');
const MiB = 1024 * 1024;
const ACCOUNT = '123456789012';
const REGIONS = ['us-east-1', 'us-gov-west-1'] as const;

interface Args {
  jobs: number;
  sizeMiB: number;
  images: number;
  workers: number[];
  regions: number;
  threads: number;
  level: number;
  dir: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    jobs: 24,
    sizeMiB: 256,
    images: 4,
    workers: [1, 2],
    regions: 2,
    threads: availableParallelism(),
    level: DEFAULT_LEVEL,
    dir: process.env.BUNDLEFARM_BENCH_DIR ?? join(homedir(), '.cache', 'bundlefarm', 'bench'),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => argv[++i] ?? '';
    const whole = (min: number, max: number): number => {
      const n = Number(next());
      if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${a} takes a whole number from ${min} to ${max}`);
      return n;
    };
    if (a === '--jobs') args.jobs = whole(1, 10_000);
    else if (a === '--size-mib') args.sizeMiB = whole(1, 10_240);
    else if (a === '--images') args.images = whole(1, 64);
    else if (a === '--workers') args.workers = next().split(',').map(Number).filter((n) => Number.isInteger(n) && n >= 1 && n <= 32);
    else if (a === '--regions') args.regions = whole(1, 2);
    else if (a === '--threads') args.threads = whole(1, 256);
    else if (a === '--level') args.level = whole(1, 9);
    else if (a === '--dir') args.dir = next();
    else throw new Error(`unknown argument ${a} (see the header of bench/farm.ts)`);
  }
  if (args.workers.length === 0) throw new Error('--workers: a comma-separated list of worker counts, e.g. 1,2');
  return args;
}

const log = (s: string): void => void process.stderr.write(`bench:farm: ${s}\n`);

/**
 * A compressible image, deterministic per seed: 64 KiB chunks, ~45 % text-like lines, ~35 % zeros,
 * ~20 % random (about what a root filesystem image compresses to at level 6: a third of its size).
 */
async function makeImage(path: string, size: number, seed: number): Promise<void> {
  if (existsSync(path)) return;
  const key = Buffer.alloc(16);
  key.writeUInt32LE(seed, 0);
  const random = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const chunk = 64 * 1024;
  const tmp = `${path}.tmp`;
  const h = await open(tmp, 'w');
  try {
    let x = seed >>> 0 || 1;
    for (let at = 0, n = 0; at < size; at += chunk, n++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const pick = (x >>> 0) % 100;
      const len = Math.min(chunk, size - at);
      let data: Buffer;
      if (pick < 45) {
        const lines: string[] = [];
        for (let i = 0, total = 0; total < len; i++) {
          const line = `-rw-r--r-- root root ${(n * 7919 + i * 104729) % 1_000_000} /usr/share/doc/pkg-${(n + i) % 997}/changelog.${i % 13}.gz\n`;
          lines.push(line);
          total += line.length;
        }
        data = Buffer.from(lines.join('')).subarray(0, len);
      } else if (pick < 80) data = Buffer.alloc(len);
      else data = random.update(Buffer.alloc(len));
      await h.write(data, 0, len, at);
    }
  } finally {
    await h.close();
  }
  await rename(tmp, path);
}

async function timedRun(cmd: string, args: string[]): Promise<number> {
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (c) => (c === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${c}: ${err.trim().slice(-500)}`))));
  });
  return (performance.now() - started) / 1000;
}

interface CliRun {
  seconds: number;
  perHour: number;
}

/** The N images bundled one after the other with the CLI. */
async function cliRun(images: string[], jobs: number, id: { key: string; cert: string }, args: Args, work: string): Promise<CliRun> {
  let seconds = 0;
  for (let i = 0; i < jobs; i++) {
    const out = join(work, 'cli-out');
    await rm(out, { recursive: true, force: true });
    seconds += await timedRun(process.execPath, [
      CLI, '--quiet', 'bundle', '-i', images[i % images.length]!, '-c', id.cert, '-k', id.key, '-u', ACCOUNT, '-r', 'x86_64', '-d', out,
      '--threads', String(args.threads), '--level', String(args.level),
    ]);
    await rm(out, { recursive: true, force: true });
  }
  return { seconds, perHour: (jobs / seconds) * 3600 };
}

interface FarmRun {
  workers: number;
  jobs: number;
  seconds: number;
  perHour: number;
  queueWait: { mean: number; p95: number };
  jobTime: { mean: number; p95: number };
  redisCommandsPerJob: number;
  /** Redis CPU time per job (commandstats usec, without EVAL: loading BullMQ's scripts once), ms. */
  redisMsPerJob: number;
  /** Redis commands per second of a job running (all commands / sum of job times). */
  redisCommandsPerJobSecond: number;
  redisTopCommands: Array<{ command: string; perJob: number; usecPerCall: number }>;
  s3RequestsPerJob: number;
  bytesUploaded: number;
  bundledBytesPerJob: number;
  imageBytesPerJob: number;
  poolBusyRatio: number;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

/** Calls and microseconds of Redis CPU per command, since the server started. */
async function commandStats(redis: Redis): Promise<Map<string, { calls: number; usec: number }>> {
  const text = await redis.info('commandstats');
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) stats.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
  return stats;
}

interface Stand {
  redis: TestRedis;
  s3: S3TestServer;
  gov: FaultProxy;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

async function farmRun(stand: Stand, workers: number, args: Args, dir: string, imageRoot: string, imageNames: string[], id: { key: string; cert: string }): Promise<FarmRun> {
  const { redis, s3, gov, credentials } = stand;
  const prefix = `farm${workers}-${Date.now().toString(36)}`;
  const buckets = [`farm-east-${prefix}`.toLowerCase(), `farm-gov-${prefix}`.toLowerCase()];
  for (const b of buckets) await s3.createBucket(b);
  const configFile = join(dir, `worker-${workers}.json`);
  await writeFile(
    configFile,
    JSON.stringify({
      identities: { release: id },
      imageRoot,
      s3: {
        endpoint: s3.endpoint,
        forcePathStyle: true,
        accessKeyIdEnv: 'FARM_S3_KEY_ID',
        secretAccessKeyEnv: 'FARM_S3_SECRET',
        regions: { 'us-gov-west-1': { endpoint: gov.endpoint } },
      },
      concurrency: 1,
      threads: args.threads,
      metricsPort: 0,
    }),
  );
  const token = `farm-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  const port = await freePort();
  const api = spawnNodeScript(API_BIN, {
    BUNDLEFARM_API_TOKENS: token,
    BUNDLEFARM_API_HOST: '127.0.0.1',
    BUNDLEFARM_API_PORT: String(port),
    BUNDLEFARM_REDIS_URL: redis.url,
    BUNDLEFARM_QUEUE_PREFIX: prefix,
    BUNDLEFARM_IMAGE_ROOT: imageRoot,
    BUNDLEFARM_LOG_LEVEL: 'warn',
  }, { name: 'API', killAfterMs: 15_000 });
  const url = `http://127.0.0.1:${port}`;
  const procs: SpawnedProcess[] = [api];
  try {
    for (let i = 0; ; i++) {
      if (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)) break;
      if (i > 300) throw new Error(`the API did not start: ${api.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const workerProcs = Array.from({ length: workers }, (_, i) =>
      spawnNodeScript(WORKER_BIN, {
        BUNDLEFARM_REDIS_URL: redis.url,
        BUNDLEFARM_QUEUE_PREFIX: prefix,
        BUNDLEFARM_CONFIG: configFile,
        BUNDLEFARM_LOG_LEVEL: 'info',
        FARM_S3_KEY_ID: credentials.accessKeyId,
        FARM_S3_SECRET: credentials.secretAccessKey,
      }, { name: `worker ${i + 1}`, killAfterMs: 60_000, defaultTimeoutMs: 60_000 }),
    );
    procs.push(...workerProcs);
    await Promise.all(workerProcs.map((w) => w.waitForLog(/"msg":"worker started"/)));
    const metricsUrls = workerProcs.map((w) => String(w.records().find((r) => r.msg === 'worker started')?.metrics));

    const client = new Redis(redis.url);
    const before = await commandStats(client);
    const started = performance.now();
    const ids: string[] = [];
    for (let i = 0; i < args.jobs; i++) {
      const spec = {
        name: `farm-${i}`,
        image: imageNames[i % imageNames.length],
        architecture: 'x86_64',
        accountId: ACCOUNT,
        identity: 'release',
        level: args.level,
        regions: REGIONS.slice(0, args.regions).map((region, r) => ({ region, bucket: buckets[r], prefix: `run/${i}/` })),
      };
      const res = await fetch(`${url}/v1/bundles`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(spec) });
      if (res.status !== 202) throw new Error(`enqueue answered ${res.status}: ${await res.text()}`);
      ids.push(((await res.json()) as { id: string }).id);
    }
    log(`${workers} worker(s): ${args.jobs} jobs enqueued in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    // follow the workers' logs (no Redis command of the bench's own while the jobs run)
    const done = new Set<string>();
    let lastReport = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        for (const w of workerProcs) {
          for (const r of w.records()) {
            if (r.msg === 'job completed' && typeof r.jobId === 'string') done.add(r.jobId);
            if (r.msg === 'job failed') {
              clearInterval(timer);
              reject(new Error(`a job failed: ${JSON.stringify(r)}`));
              return;
            }
          }
        }
        if (done.size - lastReport >= Math.max(1, Math.floor(args.jobs / 6))) {
          lastReport = done.size;
          log(`${workers} worker(s): ${done.size}/${args.jobs} done after ${((performance.now() - started) / 1000).toFixed(0)} s`);
        }
        if (ids.every((id) => done.has(id))) {
          clearInterval(timer);
          resolve();
        }
      }, 200);
    });
    const seconds = (performance.now() - started) / 1000;
    const after = await commandStats(client);
    await client.quit();

    const waits: number[] = [];
    const times: number[] = [];
    let bytesUploaded = 0;
    let bundled = 0;
    let imageBytes = 0;
    for (const id of ids) {
      const s = (await (await fetch(`${url}/v1/bundles/${id}`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
        createdAt: string;
        startedAt: string;
        finishedAt: string;
        result: { bundledSize: number; size: number; regions: Record<string, unknown> };
      };
      waits.push((Date.parse(s.startedAt) - Date.parse(s.createdAt)) / 1000);
      times.push((Date.parse(s.finishedAt) - Date.parse(s.startedAt)) / 1000);
      bytesUploaded += s.result.bundledSize * Object.keys(s.result.regions).length;
      bundled += s.result.bundledSize;
      imageBytes += s.result.size;
    }
    let s3Requests = 0;
    let busy = 0;
    let threads = 0;
    let uploaded = 0;
    for (const m of metricsUrls) {
      const x = parseExposition(await (await fetch(m)).text());
      s3Requests += x.sum('bundlefarm_worker_s3_requests_total');
      busy += x.value('bundlefarm_worker_pool_busy_seconds_total') ?? 0;
      threads += x.value('bundlefarm_worker_pool_threads') ?? 0;
      uploaded += x.sum('bundlefarm_worker_uploaded_bytes_total');
    }
    if (uploaded !== bytesUploaded) log(`note: the workers counted ${uploaded} bytes uploaded, the job results say ${bytesUploaded}`);
    const deltas = [...after]
      .map(([command, x]) => ({ command, calls: x.calls - (before.get(command)?.calls ?? 0), usec: x.usec - (before.get(command)?.usec ?? 0) }))
      .filter((d) => d.calls > 0 && d.command !== 'info');
    const total = deltas.reduce((a, d) => a + d.calls, 0);
    // EVAL: Redis compiling BullMQ's Lua scripts on their first use (then EVALSHA): once per Redis, not per job
    const usec = deltas.filter((d) => d.command !== 'eval').reduce((a, d) => a + d.usec, 0);
    const jobSeconds = times.reduce((a, b) => a + b, 0);
    return {
      workers,
      jobs: args.jobs,
      seconds,
      perHour: (args.jobs / seconds) * 3600,
      queueWait: { mean: mean(waits), p95: percentile(waits, 95) },
      jobTime: { mean: mean(times), p95: percentile(times, 95) },
      redisCommandsPerJob: total / args.jobs,
      redisMsPerJob: usec / 1000 / args.jobs,
      redisCommandsPerJobSecond: total / jobSeconds,
      redisTopCommands: deltas
        .sort((a, b) => b.calls - a.calls)
        .slice(0, 10)
        .map((d) => ({ command: d.command, perJob: d.calls / args.jobs, usecPerCall: d.usec / d.calls })),
      s3RequestsPerJob: s3Requests / args.jobs,
      bytesUploaded,
      bundledBytesPerJob: bundled / args.jobs,
      imageBytesPerJob: imageBytes / args.jobs,
      poolBusyRatio: busy / (threads * seconds),
    };
  } finally {
    await Promise.all(procs.map((p) => p.stop('SIGTERM')));
    for (const b of buckets) await rm(join(s3.directory, b), { recursive: true, force: true });
  }
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cells: string[]): string => '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ') + ' |';
  return [fmt(head), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...rows.map(fmt)].join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const imageRoot = join(args.dir, 'farm-images');
  await mkdir(imageRoot, { recursive: true });
  const imageNames = Array.from({ length: Math.min(args.images, args.jobs) }, (_, k) => `farm-${args.sizeMiB}m-${k}.img`);
  log(`preparing ${imageNames.length} image(s) of ${args.sizeMiB} MiB in ${imageRoot}`);
  for (const [k, name] of imageNames.entries()) await makeImage(join(imageRoot, name), args.sizeMiB * MiB, 1000 + k);
  const images = imageNames.map((n) => join(imageRoot, n));

  const dir = await mkdtemp(join(tmpdir(), 'bundlefarm-farm-'));
  const g = generateSelfSignedIdentity({ commonName: 'bundlefarm bench:farm' });
  const id = { key: join(dir, 'key.pem'), cert: join(dir, 'cert.pem') };
  await writeFile(id.key, g.privateKeyPem, { mode: 0o600 });
  await writeFile(id.cert, g.certificatePem);

  const redis = await startRedis();
  const s3 = await startS3Server();
  const gov = await startFaultProxy({ target: s3.endpoint, verifyContentMd5: false });
  answerAsGovWest(gov);
  const stand: Stand = { redis, s3, gov, credentials: registerS3Credentials() };
  log(`machine: ${cpus()[0]?.model ?? '?'} x ${availableParallelism()}, node ${process.version}; ${args.jobs} jobs of ${args.sizeMiB} MiB, ${args.regions} region(s), level ${args.level}, ${args.threads} threads per process`);
  try {
    // CLI, farm, CLI, farm, …, CLI: each farm run is compared with the CLI runs just before and after
    // it (this VM's speed, and what else runs on it, drift from minute to minute)
    const clis: CliRun[] = [];
    const farms: FarmRun[] = [];
    const cli = async (): Promise<void> => {
      log(`CLI: ${args.jobs} images one after the other`);
      clis.push(await cliRun(images, args.jobs, id, args, dir));
    };
    await cli();
    for (const w of args.workers) {
      log(`farm: ${w} worker process(es)`);
      farms.push(await farmRun(stand, w, args, dir, imageRoot, imageNames, id));
      gov.resetRecords();
      await cli();
    }
    const around = (i: number): number => (clis[i]!.perHour + clis[i + 1]!.perHour) / 2;
    const cliPerHour = clis.reduce((a, c) => a + c.perHour, 0) / clis.length;

    const f = (x: number, d = 1): string => x.toFixed(d);
    const text = table(
      ['run', 'jobs/h', 'vs CLI', 'queue wait mean / p95 (s)', 'job time mean / p95 (s)', 'Redis cmds/job', 'Redis CPU/job', 'S3 requests/job', 'uploaded (MiB)', 'pool busy'],
      [
        ...farms.flatMap((r, i) => [
          [`CLI, one after the other (${i === 0 ? 'first' : 'again'})`, f(clis[i]!.perHour, 0), '', '', f(clis[i]!.seconds / args.jobs, 2), '', '', '', '', ''],
          [
          `farm, ${r.workers} worker${r.workers > 1 ? 's' : ''}`,
          f(r.perHour, 0),
          `${(r.perHour / around(i)).toFixed(2)}x`,
          `${f(r.queueWait.mean)} / ${f(r.queueWait.p95)}`,
          `${f(r.jobTime.mean, 2)} / ${f(r.jobTime.p95, 2)}`,
          f(r.redisCommandsPerJob, 0),
          `${f(r.redisMsPerJob, 2)} ms`,
          f(r.s3RequestsPerJob, 0),
          f(r.bytesUploaded / MiB, 0),
          `${(r.poolBusyRatio * 100).toFixed(0)} %`,
          ],
        ]),
        ['CLI, one after the other (last)', f(clis.at(-1)!.perHour, 0), '', '', f(clis.at(-1)!.seconds / args.jobs, 2), '', '', '', '', ''],
      ],
    );
    process.stdout.write('\nvs CLI: farm jobs/h over the mean of the CLI runs just before and after it\n');
    process.stdout.write(`\n${text}\n`);
    for (const r of farms) {
      process.stdout.write(
        `\n${r.workers} worker(s): Redis commands per job by command (µs per call): ${r.redisTopCommands.map((c) => `${c.command} ${c.perJob.toFixed(1)} (${c.usecPerCall.toFixed(1)})`).join(', ')}\n` +
          `  Redis: ${f(r.redisCommandsPerJobSecond, 2)} commands per second of a running job\n` +
          `  per job: image ${f(r.imageBytesPerJob / MiB)} MiB, bundle ${f(r.bundledBytesPerJob / MiB)} MiB (x${args.regions} regions uploaded)\n`,
      );
    }
    const resultDir = join(REPO, 'bench-results');
    await mkdir(resultDir, { recursive: true });
    const report = {
      date: new Date().toISOString(),
      machine: { cpu: cpus()[0]?.model, cores: availableParallelism(), node: process.version },
      args: { ...args, dir: undefined },
      cli: { runs: clis, perHour: cliPerHour },
      farms: farms.map((r, i) => ({ ...r, ratioToCli: r.perHour / around(i) })),
    };
    const stamp = report.date.replace(/[:.]/g, '-');
    await writeFile(join(resultDir, `farm-${stamp}.json`), JSON.stringify(report, null, 2));
    await writeFile(join(resultDir, 'farm-latest.md'), `${text}\n`);
    log(`results: ${join(resultDir, `farm-${stamp}.json`)}`);
  } finally {
    await gov.close();
    await s3.stop();
    await redis.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:farm: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
