import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { parseManifest } from '@bundlefarm/format';
import { BUNDLE_QUEUE, type BundleJobResult } from '@bundlefarm/queue';
import { REPO } from '../helpers/fixtures.js';
import { pseudoRandom, textLike } from '../helpers/images.js';
import { ACCOUNT, serviceProcesses, until } from '../helpers/service-processes.js';
import { getObject, listKeys } from '../service/service-environment.js';
import type { HealthzSample, SamplerMessage } from './healthz-sampler.js';

/**
 * Load: many small bundle jobs enqueued through the API at once, three worker processes, everything
 * a real process (API, workers, redis-server; the S3 front in this process). Checked afterwards:
 *
 * - every job completed, exactly once: one 'job started' and one 'job completed' log line per job
 *   across the three workers, at attempt 1; one 'active' and one 'completed' event per job in the
 *   queue's event stream, no stalled or failed ones; the jobs still kept report one attempt made; and
 *   the bucket holds exactly one manifest (and the parts it names) per job;
 * - Redis memory comes back near where it started once completed jobs are trimmed: the API's
 *   BUNDLEFARM_KEEP_COMPLETED and BUNDLEFARM_EVENTS_MAX_LEN, small here, bound what stays;
 * - GET /healthz, sampled continuously from a process of its own while the workers are busy, answers
 *   with p95 under 100 ms: the API does no CPU work on its event loop.
 *
 * The machine may have two cores and run other tests alongside: each worker has one thread.
 * BUNDLEFARM_SLOW_TESTS=1 runs the full 200 jobs; otherwise 30, with the same assertions.
 */
const SLOW = process.env.BUNDLEFARM_SLOW_TESTS === '1';
const JOBS = SLOW ? 200 : 30;
const WORKERS = 3;
/** Completed jobs BullMQ keeps (BUNDLEFARM_KEEP_COMPLETED). */
const KEEP_COMPLETED = 5;
/** Events the queue's stream keeps (BUNDLEFARM_EVENTS_MAX_LEN): ~10 per job, so 200 jobs go past it. */
const EVENTS_MAX_LEN = 1_000;
/** The liveness bound asked for (p95), and a looser one for the single slowest answer. */
const HEALTHZ_P95_MS = 100;
const HEALTHZ_MAX_MS = 1_000;
/**
 * How far above the baseline Redis's used_memory may stay once the jobs are trimmed: the event stream
 * up to its cap (~250 bytes an event, plus the stream node BullMQ's approximate trimming leaves) and
 * allocator noise. It does not depend on the number of jobs — that is the point.
 */
const MEMORY_SLACK_BYTES = EVENTS_MAX_LEN * 300 + 256 * 1024;
const RUN_TIMEOUT_MS = SLOW ? 20 * 60_000 : 6 * 60_000;

const name = (i: number): string => `load-${i}`;
const prefixOf = (i: number): string => `load/${i}/`;

/** Sizes from 4 KiB to 1 MiB, spread over the jobs, none a round number. */
function sizeOf(i: number): number {
  return 4096 + Math.floor((((i * 37) % JOBS) / JOBS) * (1024 * 1024 - 8192)) + ((i * 131) % 4093);
}

/** Image content: random, text-like or mostly zeros (compressing badly, well, or very well). */
function image(i: number): Buffer {
  const size = sizeOf(i);
  switch (i % 3) {
    case 0:
      return pseudoRandom(size, 1000 + i);
    case 1:
      return textLike(size, i);
    default: {
      const b = Buffer.alloc(size);
      pseudoRandom(Math.min(size, 8192), 2000 + i).copy(b, Math.floor(size / 3));
      return b;
    }
  }
}

function spec(i: number, bucket: string): Record<string, unknown> {
  return {
    name: name(i),
    image: `${name(i)}.img`,
    architecture: i % 2 ? 'x86_64' : 'i386',
    accountId: ACCOUNT,
    identity: 'release',
    regions: [{ region: 'us-east-1', bucket, prefix: prefixOf(i) }],
    level: 1 + (i % 9),
  };
}

const env = await serviceProcesses({
  workers: WORKERS,
  workerConfig: { threads: 1, concurrency: 1, progressIntervalMs: 500, lockDurationMs: 60_000 },
  apiEnv: {
    BUNDLEFARM_KEEP_COMPLETED: String(KEEP_COMPLETED),
    BUNDLEFARM_EVENTS_MAX_LEN: String(EVENTS_MAX_LEN),
    BUNDLEFARM_JOB_ATTEMPTS: '3',
    BUNDLEFARM_JOB_BACKOFF_MS: '1000',
  },
  images: async (root) => {
    for (let i = 0; i < JOBS; i++) await writeFile(join(root, `${name(i)}.img`), image(i));
  },
});
const bucket = await env.bucket('load-amis');
const warmupBucket = await env.bucket('warm-up');

const redis = new Redis(env.redis.url);
const events = new QueueEvents(BUNDLE_QUEUE, { connection: { host: '127.0.0.1', port: env.redis.port }, prefix: env.prefix });
events.on('error', () => {});
let sampler: ChildProcess | undefined;

/** Queue events per job id, as Redis recorded them (a view independent of the workers' own logs). */
const seen = { active: new Map<string, number>(), completed: new Map<string, BundleJobResult>(), failed: new Map<string, string>(), stalled: new Set<string>() };
/** When the first job of the run went active (wall-clock ms, comparable with the sampler's). */
let busyFrom = 0;
let counting = false;
events.on('active', ({ jobId }) => {
  if (counting) busyFrom ||= performance.timeOrigin + performance.now();
  seen.active.set(jobId, (seen.active.get(jobId) ?? 0) + 1);
});
events.on('completed', ({ jobId, returnvalue }) => {
  const r = (typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as BundleJobResult;
  assert.ok(!seen.completed.has(jobId), `job ${jobId} completed twice`);
  seen.completed.set(jobId, r);
});
events.on('failed', ({ jobId, failedReason }) => seen.failed.set(jobId, failedReason));
events.on('stalled', ({ jobId }) => seen.stalled.add(jobId));
await events.waitUntilReady();

async function usedMemory(): Promise<number> {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? NaN);
}

/**
 * One scrape of the API's /metrics (prom-client): a value by name, NaN when absent. A scrape resets the
 * event loop delay histogram, so take everything wanted from one.
 */
async function apiMetrics(): Promise<(name: string) => number> {
  const text = await (await fetch(`${env.api.url}/metrics`)).text();
  return (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const ms = (x: number): string => `${x.toFixed(1)} ms`;
const mib = (x: number): string => `${(x / 1024 / 1024).toFixed(2)} MiB`;

async function enqueue(specs: Array<Record<string, unknown>>): Promise<string[]> {
  const responses = await Promise.all(specs.map((s) => env.request('POST', '/v1/bundles', s)));
  for (const r of responses) assert.equal(r.status, 202, r.text);
  return responses.map((r) => r.json.id as string);
}

async function allCompleted(what: string, ids: string[], timeoutMs: number): Promise<void> {
  await until(
    what,
    () => {
      if (seen.failed.size > 0) throw new Error(`jobs failed: ${JSON.stringify(Object.fromEntries(seen.failed))}`);
      return ids.every((id) => seen.completed.has(id)) || undefined;
    },
    timeoutMs,
    100,
  );
}

/** What the run measured, for the assertions below. */
const run = {
  warmupIds: [] as string[],
  ids: [] as string[],
  seconds: 0,
  memory: { cold: 0, before: 0, peak: 0, after: 0 },
  healthz: [] as HealthzSample[],
  busy: { from: 0, to: 0 },
  /** The API process over the run: CPU seconds used, event loop delay (ms). */
  api: { cpuSeconds: 0, lagP99: 0, lagMax: 0 },
};

describe(`load: ${JOBS} small bundle jobs through the API, ${WORKERS} worker processes`, { timeout: RUN_TIMEOUT_MS + 120_000 }, () => {
  // the suite's own connections go before the file's hooks stop Redis (QueueEvents would wait for it)
  after(async () => {
    sampler?.kill('SIGKILL');
    await events.close();
    redis.disconnect();
  });

  it(`enqueues ${JOBS} jobs at once and all of them complete`, { timeout: RUN_TIMEOUT_MS }, async () => {
    // A warm-up job per worker first. The first jobs on a queue make Redis allocate, once, some 0.6 MiB
    // that no trimming gives back and that does not grow with the number of jobs (the same after 30
    // jobs as after 200; BullMQ's Lua scripts are cached among it): measured from a cold start, that
    // would hide what matters — whether memory grows with the jobs.
    run.memory.cold = await usedMemory();
    run.warmupIds = await enqueue(Array.from({ length: WORKERS }, (_, i) => ({ ...spec(i, warmupBucket), name: `warm-up-${i}` })));
    await allCompleted('the warm-up jobs', run.warmupIds, 120_000);

    // the healthz sampler, in a process of its own (see healthz-sampler.ts)
    const child = fork(join(REPO, 'test', 'load', 'healthz-sampler.ts'), [], {
      cwd: REPO,
      execArgv: ['--import', 'tsx'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HEALTHZ_URL: `${env.api.url}/healthz`, HEALTHZ_PAUSE_MS: '10' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    sampler = child;
    const samplesMessage = new Promise<HealthzSample[]>((resolve, reject) => {
      child.on('message', (m: SamplerMessage) => m.type === 'samples' && resolve(m.samples));
      child.on('exit', (code) => reject(new Error(`the healthz sampler exited (${code}) without its samples`)));
    });
    await new Promise<void>((resolve, reject) => {
      child.on('message', (m: SamplerMessage) => m.type === 'ready' && resolve());
      child.on('exit', (code) => reject(new Error(`the healthz sampler exited (${code}) before it was ready`)));
    });

    run.memory.before = await usedMemory();
    run.memory.peak = run.memory.before;
    let watching = true;
    const watchMemory = (async () => {
      while (watching) {
        run.memory.peak = Math.max(run.memory.peak, await usedMemory());
        await new Promise((r) => setTimeout(r, 200));
      }
    })();

    const apiCpuBefore = (await apiMetrics())('bundlefarm_process_cpu_seconds_total');
    counting = true;
    const started = performance.now();
    try {
      run.ids = await enqueue(Array.from({ length: JOBS }, (_, i) => spec(i, bucket)));
      assert.equal(new Set(run.ids).size, JOBS, 'every job has an id of its own');
      await allCompleted(`${JOBS} completions`, run.ids, RUN_TIMEOUT_MS - 150_000);
    } finally {
      run.busy = { from: busyFrom, to: performance.timeOrigin + performance.now() };
      run.seconds = (performance.now() - started) / 1000;
      watching = false;
      await watchMemory;
      child.send('stop');
      run.healthz = await samplesMessage;
      const metric = await apiMetrics();
      run.api = {
        cpuSeconds: metric('bundlefarm_process_cpu_seconds_total') - apiCpuBefore,
        lagP99: metric('bundlefarm_nodejs_eventloop_lag_p99_seconds') * 1000,
        lagMax: metric('bundlefarm_nodejs_eventloop_lag_max_seconds') * 1000,
      };
    }
    console.log(`load: ${JOBS} jobs, ${WORKERS} workers (1 thread each): enqueued at once, all completed in ${run.seconds.toFixed(1)} s`);
  });

  it('ran every job exactly once (worker logs, queue events, attempts)', async () => {
    assert.equal(run.ids.length, JOBS);
    const all = [...run.warmupIds, ...run.ids];
    // a worker logs 'job completed' just before BullMQ records the completion; the pipe may lag a little
    const byWorker = () =>
      env.workers.map((w) => {
        const records = w.records();
        const of = (msg: string) => records.filter((r) => r.msg === msg);
        return { started: of('job started'), completed: of('job completed') };
      });
    await until('every completion in the worker logs', () => byWorker().reduce((n, w) => n + w.completed.length, 0) >= all.length || undefined, 30_000);
    const logs = byWorker();
    console.log(`load: jobs per worker: ${logs.map((w) => w.completed.length).join(', ')} (${WORKERS} of them warm-up jobs)`);
    for (const [what, lines] of [
      ['started', logs.flatMap((w) => w.started)],
      ['completed', logs.flatMap((w) => w.completed)],
    ] as const) {
      const count = new Map<string, number>();
      for (const l of lines) count.set(String(l.jobId), (count.get(String(l.jobId)) ?? 0) + 1);
      for (const id of all) assert.equal(count.get(id), 1, `job ${id}: 'job ${what}' logged ${count.get(id) ?? 0} times across the workers`);
      assert.equal(lines.length, all.length, `'job ${what}' lines`);
      for (const l of lines) assert.equal(l.attempt, 1, `job ${String(l.jobId)} ${what} at attempt ${String(l.attempt)}`);
    }
    for (const [i, w] of logs.entries()) assert.ok(w.completed.length > 0, `worker ${i + 1} took jobs`);

    for (const id of all) {
      assert.equal(seen.active.get(id), 1, `job ${id} became active ${seen.active.get(id) ?? 0} times`);
      assert.ok(seen.completed.has(id), `job ${id} completed`);
    }
    assert.deepEqual([...seen.stalled], [], 'stalled jobs');
    assert.deepEqual([...seen.failed.keys()], [], 'failed jobs');

    // trimming kept the last few: those say one attempt was made; the others are gone
    const statuses = await Promise.all(run.ids.map((id) => env.request('GET', `/v1/bundles/${id}`)));
    const kept = statuses.filter((s) => s.status === 200);
    assert.equal(kept.length, KEEP_COMPLETED, 'completed jobs kept');
    for (const s of kept) {
      assert.equal(s.json.state, 'completed');
      assert.equal(s.json.attempts.made, 1, `${s.json.id}: attempts made`);
    }
    for (const s of statuses.filter((x) => x.status !== 200)) assert.equal(s.json.error, 'BF_JOB_NOT_FOUND', s.text);
    const counts = await env.request('GET', '/v1/queue');
    assert.deepEqual({ ...counts.json.counts }, { waiting: 0, active: 0, delayed: 0, prioritized: 0, 'waiting-children': 0, completed: KEEP_COMPLETED, failed: 0, cancelled: 0 });
  });

  it('left exactly one bundle per job in the bucket', async () => {
    const keys = await listKeys(env.client, bucket);
    assert.equal(keys.filter((k) => k.endsWith('.manifest.xml')).length, JOBS, 'one manifest per job');
    const expected: string[] = [];
    await Promise.all(
      run.ids.map(async (id, i) => {
        const region = seen.completed.get(id)!.regions['us-east-1']!;
        assert.equal(region.manifestKey, `${prefixOf(i)}${name(i)}.manifest.xml`);
        const { manifest } = parseManifest((await getObject(env.client, bucket, region.manifestKey)).toString('utf8'));
        assert.equal(manifest.image.name, name(i));
        assert.equal(manifest.image.size, sizeOf(i));
        const parts = manifest.image.parts.map((p) => prefixOf(i) + p.filename);
        assert.deepEqual(region.partKeys, parts);
        expected.push(region.manifestKey, ...parts);
      }),
    );
    assert.deepEqual(keys, expected.sort(), 'the bucket holds the manifests and their parts, nothing else');
  });

  it('Redis memory returns near its start once completed jobs are trimmed', async () => {
    run.memory.after = await usedMemory();
    run.memory.peak = Math.max(run.memory.peak, run.memory.after);
    const { cold, before, peak, after: end } = run.memory;
    const eventsKey = `${env.prefix}:${BUNDLE_QUEUE}:events`;
    const [keys, streamLength] = await Promise.all([redis.dbsize(), redis.xlen(eventsKey)]);
    console.log(
      `load: Redis used_memory: cold ${mib(cold)}, baseline after warm-up ${mib(before)}, peak ${mib(peak)}, after trimming ${mib(end)} ` +
        `(${keys} keys, ${streamLength} events in the stream)`,
    );
    // the stream is capped (BullMQ trims whole nodes of up to 100 entries, so a little over the cap)
    assert.ok(streamLength <= EVENTS_MAX_LEN + 200, `${streamLength} events kept`);
    assert.ok(end - before < MEMORY_SLACK_BYTES, `used_memory grew by ${mib(end - before)} (from ${mib(before)} to ${mib(end)})`);
  });

  it(`GET /healthz answered with p95 < ${HEALTHZ_P95_MS} ms while the workers were busy`, async () => {
    const { from, to } = run.busy;
    assert.ok(from > 0 && to > from, 'the workers were busy for a while');
    const busy = run.healthz.filter((s) => s.at >= from && s.at <= to);
    assert.deepEqual(
      busy.filter((s) => s.status !== 200),
      [],
      'every /healthz answered 200',
    );
    const sorted = busy.map((s) => s.ms).sort((a, b) => a - b);
    assert.ok(sorted.length >= 20, `enough samples (${sorted.length})`);
    const p50 = percentile(sorted, 50);
    const p95 = percentile(sorted, 95);
    const max = sorted.at(-1)!;
    console.log(`load: /healthz while the workers were busy (${((to - from) / 1000).toFixed(1)} s): ${sorted.length} samples, p50 ${ms(p50)}, p95 ${ms(p95)}, max ${ms(max)}`);
    // The API's own view: CPU it used, and its event loop delay (prom-client's monitorEventLoopDelay, 10 ms
    // resolution, since the previous scrape — before the run). A delay with little CPU used is the
    // process waiting for a core (two cores, three busy workers), not work on its event loop.
    console.log(
      `load: the API over the run: ${run.api.cpuSeconds.toFixed(2)} s of CPU in ${((to - from) / 1000).toFixed(1)} s; event loop delay p99 ${ms(run.api.lagP99)}, max ${ms(run.api.lagMax)}`,
    );
    assert.ok(p95 < HEALTHZ_P95_MS, `/healthz p95 ${ms(p95)}`);
    assert.ok(max < HEALTHZ_MAX_MS, `/healthz max ${ms(max)}`);
  });
});
