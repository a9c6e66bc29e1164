/*
 * A worker stays operable while Redis is away (real worker processes, the test's own redis-server
 * killed and, where said, started again on the same port with its AOF):
 *
 * - each reconnect attempt is one JSON line with its cause (`{ code, message }`), nothing else at
 *   warning level, nothing that is not JSON (no "[object Object]", no raw stack on stderr), and one line
 *   when Redis is back;
 * - SIGTERM with a job running and Redis away: the job gets the grace period, then the worker gives up
 *   on handing it back and exits 0 by itself — and once Redis is back, another worker takes the job over
 *   and completes it;
 * - a second signal exits at once (status 128 + signal), long before the grace period, also while the
 *   worker is still connecting at start-up.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Job } from 'bullmq';
import type { BundleJobData, BundleJobResult } from '@bundlefarm/queue';
import { s3Requests } from '../helpers/fault-proxy.js';
import { serviceEnvironment, specFor, until, type WorkerProcess } from '../service/service-environment.js';
import { assertSoleBundle } from './published-bundles.js';

const GRACE_MS = 1_000;
const LOCK_MS = 10_000;
const env = await serviceEnvironment({ redis: { appendOnly: true }, worker: { lockDurationMs: LOCK_MS, shutdownGraceMs: GRACE_MS }, proxyEast: true });
env.queue.on('error', () => {});
const workers: WorkerProcess[] = [];
after(async () => {
  env.resetFaults();
  await Promise.all(workers.map((w) => w.stop('SIGKILL')));
});

/** A worker configured like the others, with a grace period of `graceMs`. */
async function startWorkerWithGrace(graceMs: number): Promise<WorkerProcess> {
  // one worker at a time: the previous test's is gone (stopped, or killed if that test failed)
  await Promise.all(workers.splice(0).map((w) => w.stop('SIGKILL')));
  const base = env.workerEnv.BUNDLEFARM_CONFIG!;
  const file = join(env.dir, `worker-grace-${graceMs}.json`);
  await writeFile(file, JSON.stringify({ ...(JSON.parse(await readFile(base, 'utf8')) as object), shutdownGraceMs: graceMs }));
  const w = await env.startWorker({ BUNDLEFARM_CONFIG: file });
  workers.push(w);
  return w;
}

/** Every line a process wrote since `mark` (stdout and stderr). */
function linesSince(w: WorkerProcess, mark: number): string[] {
  return w
    .output()
    .slice(mark)
    .split('\n')
    .filter((l) => l.trim() !== '');
}

/** Posts a job whose part uploads are held back for `holdMs`; resolves with its id once it uploads. */
async function slowJob(label: string, holdMs: number): Promise<{ id: string; bucket: string }> {
  const bucket = await env.bucket(label);
  env.eastProxy.addFault({ match: (q) => q.method === 'PUT' && q.path.includes('.part.') && s3Requests.inBucket(bucket)(q), action: { type: 'delay', ms: holdMs } });
  const posted = await env.api('POST', '/v1/bundles', specFor([{ region: 'us-east-1', bucket, prefix: '' }], { name: label, level: 1 }));
  assert.equal(posted.status, 202, JSON.stringify(posted.json));
  await until(`${label} to upload`, () => env.eastProxy.requests.some((q) => s3Requests.inBucket(bucket)(q) && q.path.includes('.part.')) || undefined, 60_000, 20);
  return { id: posted.json.id as string, bucket };
}

describe('a worker while Redis is away', { timeout: 300_000 }, () => {
  it('logs each reconnect attempt as one JSON line with its cause, and when Redis is back', { timeout: 120_000 }, async () => {
    const w = await startWorkerWithGrace(GRACE_MS);
    // the start-up warnings (no principals file, no MAC key) come right after "worker started"
    await w.waitForLog(/no job MAC key/);
    const mark = w.output().length;
    await env.redis.kill();
    await until('three reconnect attempts', () => linesSince(w, mark).filter((l) => l.includes('Redis unreachable: reconnecting')).length >= 3 || undefined, 30_000);
    await env.redis.restart();
    await until('the worker to say Redis is back', () => linesSince(w, mark).some((l) => l.includes('"Redis connection back"')) || undefined, 30_000);

    const lines = linesSince(w, mark);
    const records = lines.map((l) => {
      try {
        return JSON.parse(l) as Record<string, any>;
      } catch {
        return assert.fail(`a line that is not JSON: ${l}`);
      }
    });
    assert.doesNotMatch(w.output(), /\[object Object\]/);
    // at warning level and above: the reconnect attempts, one line each, and nothing else
    const loud = records.filter((r) => r.level >= 40);
    assert.ok(loud.length >= 3);
    for (const r of loud) {
      assert.equal(r.msg, 'Redis unreachable: reconnecting', JSON.stringify(r));
      assert.equal(r.redis, 'queue');
      assert.equal(typeof r.cause?.message, 'string', JSON.stringify(r));
      assert.equal(r.stack ?? r.cause?.stack ?? r.err, undefined, 'no stack');
    }
    assert.deepEqual(
      loud.map((r) => r.attempt),
      loud.map((_, i) => i + 1),
      'one line per attempt',
    );
    // the attempts after the first found the port closed: that is the cause they name
    assert.ok(loud.slice(1).every((r) => r.cause.code === 'ECONNREFUSED'), JSON.stringify(loud.map((r) => r.cause)));
    const back = records.find((r) => r.msg === 'Redis connection back')!;
    assert.equal(back.attempts, loud.length);
  });

  it('SIGTERM with a job running and Redis away: exits after the grace period; the job completes on another worker once Redis is back', { timeout: 180_000 }, async () => {
    const w = await startWorkerWithGrace(GRACE_MS);
    const { id, bucket } = await slowJob('sigterm-away', 20_000);
    await until('the job to run on the worker', () => w.records().some((r) => r.jobId === id && r.msg === 'job started') || undefined, 30_000);
    await env.redis.kill();
    const { code, signal } = await w.stop('SIGTERM');
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, w.output());
    const records = w.records();
    assert.ok(records.some((r) => r.msg === 'grace period over: stopping running jobs and handing them back to the queue'), w.output());
    const gaveUp = records.find((r) => typeof r.msg === 'string' && r.msg.startsWith('shutdown deadline'));
    assert.ok(gaveUp, w.output());
    assert.deepEqual(gaveUp.running, [id]);
    assert.ok(records.some((r) => r.msg === 'worker stopped'));

    // Redis back: the job's lock runs out, another worker takes it over and completes it
    env.resetFaults();
    await env.redis.restart();
    const other = await startWorkerWithGrace(GRACE_MS);
    const done = await until(
      'the job to complete on the other worker',
      async () => {
        const job = await Job.fromId<BundleJobData, BundleJobResult>(env.queue, id);
        return job?.finishedOn ? job : undefined;
      },
      120_000,
      100,
    );
    assert.equal(await done.getState(), 'completed', `${done.failedReason ?? ''}\n${other.output()}`);
    assert.equal(other.records().filter((r) => r.jobId === id && r.msg === 'job completed').length, 1);
    await assertSoleBundle(env.client, bucket, '', 'sigterm-away', env.user.certificate);
    assert.equal((await other.stop('SIGTERM')).code, 0, other.output());
  });

  it('a second signal exits at once, long before a grace period of 10 minutes', { timeout: 120_000 }, async () => {
    const w = await startWorkerWithGrace(600_000);
    const { id } = await slowJob('second-signal', 30_000);
    await until('the job to run on the worker', () => w.records().some((r) => r.jobId === id && r.msg === 'job started') || undefined, 30_000);
    await env.redis.kill();
    w.child.kill('SIGTERM');
    await w.waitForLog(/signal received: shutting down gracefully/);
    const { code, signal } = await w.stop('SIGINT');
    assert.deepEqual({ code, signal }, { code: 130, signal: null }, w.output());
    assert.match(w.output(), /second signal while shutting down: exiting now/);
    env.resetFaults();
    await env.redis.restart();
  });

  it('signals while the worker is still connecting at start-up: the first waits out the grace period, a second exits at once', { timeout: 120_000 }, async () => {
    await env.redis.kill();
    try {
      const base = env.workerEnv.BUNDLEFARM_CONFIG!;
      const file = join(env.dir, 'worker-grace-start.json');
      await writeFile(file, JSON.stringify({ ...(JSON.parse(await readFile(base, 'utf8')) as object), shutdownGraceMs: GRACE_MS }));
      const { spawnWorker } = await import('../service/service-environment.js');
      // the first signal alone: the worker gives up connecting when the grace period ends, and exits 0
      const first = spawnWorker({ ...env.workerEnv, BUNDLEFARM_CONFIG: file });
      workers.push(first);
      await first.waitForLog(/Redis unreachable: reconnecting/);
      const one = await first.stop('SIGTERM');
      assert.deepEqual({ code: one.code, signal: one.signal }, { code: 0, signal: null }, first.output());
      assert.match(first.output(), /had not started/);
      // two signals: 128 + SIGTERM at once
      const second = spawnWorker({ ...env.workerEnv, BUNDLEFARM_CONFIG: file.replace('worker-grace-start', `worker-grace-${600_000}`) });
      workers.push(second);
      await second.waitForLog(/Redis unreachable: reconnecting/);
      second.child.kill('SIGTERM');
      await second.waitForLog(/signal received/);
      const two = await second.stop('SIGTERM');
      assert.deepEqual({ code: two.code, signal: two.signal }, { code: 143, signal: null }, second.output());
    } finally {
      await env.redis.restart();
    }
  });
});
