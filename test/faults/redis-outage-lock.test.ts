/*
 * Redis away for half the job lock, five times during one job: the worker keeps the lock every time.
 *
 * docs/service.md promises that a Redis outage shorter than half of `lockDurationMs` never costs a
 * running job its lock. Here the test's own redis-server (AOF, fsync always, as a deployment must run
 * it) is SIGKILLed and started again on the same port five times while one job uploads — each time
 * it stays away for half the lock duration (the time between the kill and the restarted server
 * answering), and each time it goes at the worst moment for the worker: just before its next lock
 * renewal is due (the test watches the lock's TTL to learn when renewals come). The worker is a real
 * process. Its part uploads are held back by the S3 proxy so that
 * the job is still running through every outage; S3 stays reachable throughout.
 *
 * What must hold: the job completes in its first attempt (never handed to a retry or to the stalled
 * checker), the worker never logs a lost lock, and the bundle unbundles to the image. Without a bounded
 * reconnect delay and a renewal cadence that leaves room for the outage, a renewal lands after the
 * lock expired (BullMQ's default renews only every half lock, and ioredis' backoff added seconds).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Job } from 'bullmq';
import { Redis } from 'ioredis';
import { BUNDLE_QUEUE, type BundleJobData, type BundleJobResult } from '@bundlefarm/queue';
import { s3Requests } from '../helpers/fault-proxy.js';
import { PREFIX, serviceEnvironment, specFor, until } from '../service/service-environment.js';
import { assertSoleBundle, unbundleWithCli } from './published-bundles.js';

const LOCK_MS = 12_000;
const OUTAGE_MS = LOCK_MS / 2;
const OUTAGES = 5;
/** Redis up between two outages: a quarter of the lock. */
const UP_MS = LOCK_MS / 4;
/** Outage and renewals watched, per outage at most: Redis up for two renewals, then down. */
const CYCLE_MS = OUTAGE_MS + LOCK_MS;

const env = await serviceEnvironment({ redis: { appendOnly: true }, worker: { lockDurationMs: LOCK_MS }, proxyEast: true });
env.queue.on('error', () => {}); // the test's own view of the queue rides the outages out too
/** The test's own connection, to watch the job's lock (it reconnects after each restart). */
const watcher = new Redis(env.redis.url, { maxRetriesPerRequest: null, retryStrategy: () => 50 });
watcher.on('error', () => {});
after(() => {
  env.resetFaults();
  watcher.disconnect();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/**
 * Watches the lock's TTL until it has been renewed twice (the TTL jumps up); resolves with the times of
 * those two renewals, as the test saw them.
 */
async function twoRenewals(lockKey: string): Promise<[number, number]> {
  const seen: number[] = [];
  let last = await watcher.pttl(lockKey);
  const deadline = Date.now() + 2 * LOCK_MS;
  while (seen.length < 2) {
    assert.ok(Date.now() < deadline, 'the lock is renewed while the job runs');
    await sleep(20);
    const ttl = await watcher.pttl(lockKey);
    assert.ok(ttl > 0, `the job holds its lock (PTTL ${ttl})`);
    if (ttl > last + 100) seen.push(Date.now());
    last = ttl;
  }
  return [seen[0]!, seen[1]!];
}

describe('Redis outages of half the lock duration', { timeout: 240_000 }, () => {
  it(`${OUTAGES} outages of ${OUTAGE_MS} ms during one job never lose its lock`, { timeout: 240_000 }, async () => {
    const worker = await env.startWorker();
    const bucket = await env.bucket('outages');
    // every part is answered late: the job is still uploading through all the outages
    const holdMs = OUTAGES * CYCLE_MS + 10_000;
    env.eastProxy.addFault({ match: (q) => q.method === 'PUT' && q.path.includes('.part.') && s3Requests.inBucket(bucket)(q), action: { type: 'delay', ms: holdMs } });
    const posted = await env.api('POST', '/v1/bundles', specFor([{ region: 'us-east-1', bucket, prefix: '' }], { name: 'outages', level: 1 }));
    assert.equal(posted.status, 202, JSON.stringify(posted.json));
    const id: string = posted.json.id;
    await until('the first part upload', () => env.eastProxy.requests.some((q) => q.path.includes('.part.')) || undefined, 60_000, 20);

    const outages: number[] = [];
    const periods: number[] = [];
    const lockKey = `${PREFIX}:${BUNDLE_QUEUE}:${id}:lock`;
    let restartMs = 0;
    for (let i = 0; i < OUTAGES; i++) {
      const job = await Job.fromId<BundleJobData, BundleJobResult>(env.queue, id);
      assert.equal(await job?.getState(), 'active', `the job is still running before outage ${i + 1}`);
      // the worst moment: just before the renewal after the next one is due
      const [first, second] = await twoRenewals(lockKey);
      const period = second - first;
      periods.push(period);
      await sleep(second + period - 150 - Date.now());
      const down = Date.now();
      await env.redis.kill();
      // away for OUTAGE_MS in all: until the restarted server answers (its start-up, measured last time, counts)
      await sleep(OUTAGE_MS - restartMs);
      const restarting = Date.now();
      await env.redis.restart();
      restartMs = Date.now() - restarting;
      outages.push(Date.now() - down);
      await sleep(UP_MS);
    }
    env.resetFaults();
    console.log(`renewal periods seen (ms): ${periods.join(', ')}; outages (ms, kill to answering again): ${outages.join(', ')}`);

    const done = await until(
      'the job to finish',
      async () => {
        const job = await Job.fromId<BundleJobData, BundleJobResult>(env.queue, id);
        return job?.finishedOn ? job : undefined;
      },
      holdMs + 60_000,
      100,
    );
    assert.equal(await done.getState(), 'completed', `${done.failedReason ?? ''}\n${worker.output()}`);
    assert.equal(done.attemptsStarted, 1, 'one attempt: the lock was never lost, the job never taken over');
    assert.equal(done.attemptsMade, 1);
    assert.equal(done.stalledCounter, 0, 'never seen as stalled');
    assert.doesNotMatch(worker.output(), /lost the job lock|could not renew lock/);
    assert.equal(worker.records().filter((r) => r.jobId === id && r.msg === 'job completed').length, 1);
    await assertSoleBundle(env.client, bucket, '', 'outages', env.user.certificate);
    assert.equal(await unbundleWithCli(env.client, bucket, 'outages.manifest.xml', { key: env.userKey, cert: env.userCert }), env.image.sha256);
    assert.equal((await worker.stop('SIGTERM')).code, 0, worker.output());
  });
});
