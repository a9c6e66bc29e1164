import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { QueueEvents } from 'bullmq';
import type { BundleJobProgress } from '@bundlefarm/queue';
import { BUNDLE_QUEUE } from '@bundlefarm/queue';
import { GOV_REGION } from '../helpers/environment-setup.js';
import { s3Requests } from '../helpers/fault-proxy.js';
import { apiRequest } from '../helpers/api-request.js';
import { startApiProcess, type ApiProcess } from '../helpers/service-processes.js';
import { PREFIX, TOKEN, listKeys, serviceEnvironment, specFor, until, type WorkerProcess } from '../service/service-environment.js';
import { assertSoleBundle, unbundleWithCli } from './published-bundles.js';

/**
 * Redis killed (SIGKILL) and started again on the same port under running jobs, everything a real
 * process: Redis with AOF (as a deployment must run it — docs/service.md), the API process
 * (apps/api/bin/bundlefarm-api.js), two worker processes, the S3 front. Five jobs are queued, two of them
 * uploading when Redis dies. While it is away the API answers 503 at once (and enqueues nothing); the
 * workers keep their jobs. Then, without anyone restarting anything else: the API and the workers
 * reconnect by themselves, every job accepted is still there and completes exactly once (one
 * consistent bundle each), jobs sent after the restart run, and a cancel still reaches its worker.
 *
 * The job lock (120 s here) outlasts the outage twice over, as it must in production (a Redis outage
 * shorter than half of lockDurationMs never costs a lock; docs/service.md): Redis stays away here until
 * the running jobs have finished bundling, which on a loaded machine can take a minute. A worker whose
 * lock went unconfirmed for 7/8 of it would fence itself (stop its job's S3 writes) and leave the job to
 * a retry.
 */
const env = await serviceEnvironment({ redis: { appendOnly: true }, worker: { lockDurationMs: 120_000 }, proxyEast: true });
env.queue.on('error', () => {}); // the test's own view of the queue reconnects by itself too
const events = new QueueEvents(BUNDLE_QUEUE, { connection: { host: '127.0.0.1', port: env.redis.port }, prefix: PREFIX });
events.on('error', () => {}); // it reconnects by itself; errors while Redis is away are expected
await events.waitUntilReady();
/** 'completed' events per job id. */
const completions = new Map<string, number>();
events.on('completed', ({ jobId }) => completions.set(jobId, (completions.get(jobId) ?? 0) + 1));
const processes: Array<ApiProcess | WorkerProcess> = [];
after(async () => {
  await events.close();
  await Promise.all(processes.map((p) => p.stop('SIGKILL')));
});

const SLOW = { timeout: 180_000 };
const userFiles = { key: env.userKey, cert: env.userCert };

async function call(api: ApiProcess, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const { status, json } = await apiRequest(api.url, TOKEN, method, path, body);
  return { status, json };
}

interface Submitted {
  id: string;
  name: string;
  bucket: string;
}

async function submit(api: ApiProcess, name: string, bucket?: string): Promise<Submitted> {
  bucket ??= await env.bucket(name);
  const r = await call(api, 'POST', '/v1/bundles', specFor([{ region: 'us-east-1', bucket, prefix: '' }], { name, level: 1 }));
  assert.equal(r.status, 202, JSON.stringify(r.json));
  return { id: r.json.id, name, bucket };
}

/** The job's status through the API once it has finished. */
function finished(api: ApiProcess, id: string): Promise<any> {
  return until(
    `job ${id} to finish`,
    async () => {
      const s = await call(api, 'GET', `/v1/bundles/${id}`);
      return s.json?.finished ? s.json : undefined;
    },
    120_000,
    100,
  );
}

/** Lines of the workers' logs written since `marks` (output lengths taken earlier) that match. */
function linesSince(workers: readonly WorkerProcess[], marks: readonly number[], pattern: RegExp): string[][] {
  return workers.map((w, i) => w.output().slice(marks[i]).split('\n').filter((l) => pattern.test(l)));
}

describe('Redis restarted under running jobs', SLOW, () => {
  it('the API and the workers reconnect by themselves; no job is lost, none completes twice', SLOW, async () => {
    const api = await startApiProcess({
      BUNDLEFARM_API_TOKENS: TOKEN,
      BUNDLEFARM_REDIS_URL: env.redis.url,
      BUNDLEFARM_QUEUE_PREFIX: PREFIX,
      BUNDLEFARM_IMAGE_ROOT: env.imageRoot,
      BUNDLEFARM_JOB_ATTEMPTS: '3',
      BUNDLEFARM_JOB_BACKOFF_MS: '200',
      BUNDLEFARM_LOG_LEVEL: 'info',
    });
    processes.push(api);
    const workers = await Promise.all([env.startWorker(), env.startWorker()]);
    processes.push(...workers);

    const names = [1, 2, 3, 4, 5].map((i) => `restart-${i}`);
    const buckets = await Promise.all(names.map((n) => env.bucket(n)));
    // the first two jobs (running when Redis dies) have their parts answered slowly: they are still
    // uploading when it goes, and finish bundling while it is away
    const slow = buckets.slice(0, 2).map((b) => s3Requests.inBucket(b));
    env.eastProxy.addFault({ match: (q) => q.method === 'PUT' && q.path.includes('.part.') && slow.some((m) => m(q)), action: { type: 'delay', ms: 1_000 } });
    const before: Submitted[] = [];
    for (const [i, name] of names.entries()) before.push(await submit(api, name, buckets[i]));
    // two jobs running (parts going up), three waiting
    const running = await until(
      'two jobs uploading',
      async () => {
        const active = await env.queue.getActive();
        const uploading = active.filter((j) => ((j.progress as BundleJobProgress | undefined)?.partsDone ?? 0) >= 1);
        return uploading.length === 2 ? uploading.map((j) => j.id!) : undefined;
      },
      60_000,
      20,
    );

    const marks = workers.map((w) => w.output().length);
    await env.redis.kill();
    // away: the API says so at once and takes nothing in; both workers notice
    const ready = await fetch(`${api.url}/readyz`);
    assert.equal(ready.status, 503);
    const refused = await call(api, 'POST', '/v1/bundles', specFor([{ region: 'us-east-1', bucket: before[0]!.bucket, prefix: 'refused/' }], { name: 'refused' }));
    assert.equal(refused.status, 503, JSON.stringify(refused.json));
    assert.equal(refused.json.error, 'BF_QUEUE_UNAVAILABLE');
    await until('both workers to notice Redis is gone', () => linesSince(workers, marks, /Redis unreachable: reconnecting/).every((l) => l.length > 0) || undefined, 30_000);
    // the running jobs go on without Redis: they finish their uploads (and wait for it to publish)
    const bundled = new RegExp(`"jobId":"(${running.join('|')})".*"msg":"bundled"`);
    await until('the running jobs to finish bundling', () => linesSince(workers, marks, bundled).flat().length === 2 || undefined, 60_000);

    await env.redis.restart();
    await until('the API to be ready again', async () => (await fetch(`${api.url}/readyz`).then((r) => r.status)) === 200 || undefined, 60_000);
    const afterwards = [await submit(api, 'restart-6')];
    // and one to cancel while it runs (its GovCloud parts answer slowly): the workers' cancel subscription is back too
    const cancelTarget = await env.bucket('restart-cancel', GOV_REGION);
    env.govProxy.addFault({ match: (q) => s3Requests.putObject(q) && s3Requests.inBucket(cancelTarget)(q), action: { type: 'delay', ms: 1_500 } });
    try {
      const spec = specFor([{ region: 'us-gov-west-1', bucket: cancelTarget, prefix: '' }], { name: 'restart-cancel', level: 1 });
      const c = await call(api, 'POST', '/v1/bundles', spec);
      assert.equal(c.status, 202, JSON.stringify(c.json));
      const cancelId: string = c.json.id;
      await until('the job to cancel to upload', async () => (await listKeys(env.clientFor(GOV_REGION), cancelTarget)).some((k) => k.includes('.part.')) || undefined, 120_000);
      const d = await call(api, 'DELETE', `/v1/bundles/${cancelId}`);
      assert.equal(d.status, 202, JSON.stringify(d.json));
      const cancelled = await finished(api, cancelId);
      assert.equal(cancelled.state, 'cancelled');
      assert.equal(cancelled.error.code, 'BF_CANCELLED');
      await until('the cancelled job’s uploads to be removed', async () => (await listKeys(env.clientFor(GOV_REGION), cancelTarget)).length === 0 || undefined, 30_000);
    } finally {
      env.resetFaults();
    }

    // every job accepted completes, exactly once
    const all = [...before, ...afterwards];
    for (const job of all) {
      const status = await finished(api, job.id);
      assert.equal(status.state, 'completed', `${job.name}: ${JSON.stringify(status.error)}`);
      assert.equal(status.attempts.started, 1, `${job.name} rode the outage out in its first attempt`);
    }
    const counts = await env.counts();
    assert.deepEqual(
      { completed: counts.completed, failed: counts.failed, waiting: counts.waiting, active: counts.active, delayed: counts.delayed },
      { completed: all.length, failed: 1, waiting: 0, active: 0, delayed: 0 },
      'the jobs accepted, the cancelled one, and nothing else (the refused request enqueued nothing)',
    );
    for (const job of all) {
      const done = new RegExp(`"jobId":"${job.id}".*"msg":"job completed`);
      assert.equal(linesSince(workers, [0, 0], done).flat().length, 1, `${job.name}: one "job completed" across the workers`);
      await until(`the completed event of ${job.name}`, () => completions.has(job.id) || undefined);
      assert.equal(completions.get(job.id), 1, `${job.name}: BullMQ reported one completion`);
      await assertSoleBundle(env.client, job.bucket, '', job.name, env.user.certificate);
    }
    // the jobs caught mid-upload give the image back byte for byte
    for (const id of running) {
      const job = all.find((j) => j.id === id)!;
      assert.equal(await unbundleWithCli(env.client, job.bucket, `${job.name}.manifest.xml`, userFiles), env.image.sha256, job.name);
    }
    // the API's event stream reconnected too: it counted every completion, once
    const metrics = await until('the API to count the completions', async () => {
      const text = await (await fetch(`${api.url}/metrics`)).text();
      return new RegExp(`^bundlefarm_jobs_completed_total ${all.length}$`, 'm').test(text) ? text : undefined;
    });
    assert.match(metrics, /^bundlefarm_queue_up 1$/m);

    // and everything still stops cleanly
    assert.equal((await api.stop('SIGTERM')).code, 0, api.output());
    for (const w of workers) await w.stop('SIGTERM');
    for (const w of workers) assert.equal(w.child.exitCode, 0, w.output());
  });
});
