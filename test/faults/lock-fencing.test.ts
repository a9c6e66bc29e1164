/*
 * Self-fencing (security finding R1): a worker cut off from Redis but not from S3 stops writing to S3
 * before another worker can take its job over, so its late part uploads cannot corrupt the bundle the
 * other worker publishes.
 *
 * Two real worker processes, each with an S3 key pair of its own (the S3 front's request log tells
 * their requests apart). Worker A reaches Redis through a TCP proxy the test cuts (connections reset
 * and refused: Redis unreachable for A only) while A uploads its parts, one at a time and slowly (the
 * S3 proxy in front of A holds the answers to its first parts until B can have taken over), S3 still reachable. Worker B, on the same Redis directly,
 * takes the job over once A's lock has expired. From the S3 front's log: every write of A (PUT or
 * DELETE) arrived — and, if it was answered, was answered — before B's first write arrived; A says it
 * fenced itself; and the bundle B published verifies and unbundles to the image.
 *
 * This is the proxy version of the partition (A's Redis traffic cut at a TCP proxy on loopback); the
 * network-namespace version, a route deleted between hosts, is network-partition.test.ts.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { holdFirstPartUploads, untilJobFinished, untilPartUploadBy, workerKeys, workerKeysEnv } from '../helpers/job-takeover.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { serviceEnvironment, specFor, type WorkerProcess } from '../service/service-environment.js';
import { assertSoleBundle, unbundleWithCli } from './published-bundles.js';
import { assertCutWorkerWroteFirst, untilFencedOrLate, workerConfigWith } from './takeover-order.js';

const LOCK_MS = 8_000;
const env = await serviceEnvironment({ worker: { lockDurationMs: LOCK_MS, shutdownGraceMs: 300 }, proxyEast: true });
env.queue.on('error', () => {});
const redisProxy = await startTcpProxy({ host: '127.0.0.1', port: env.redis.port });
const workers: WorkerProcess[] = [];
after(async () => {
  env.resetFaults();
  await Promise.all(workers.map((w) => w.stop('SIGKILL')));
  await redisProxy.close();
});

describe('a worker cut off from Redis but not from S3', { timeout: 240_000 }, () => {
  it('stops writing before the worker that takes its job over writes; the published bundle is intact', { timeout: 240_000 }, async () => {
    const keysA = workerKeys();
    const keysB = workerKeys();
    // A: Redis through the proxy; us-east-1 through the S3 fault proxy, one part at a time
    const configA = await workerConfigWith(env, 'worker-a.json', (c) => {
      c.s3.partsInFlight = 1;
    });
    // B: Redis and S3 directly
    const configB = await workerConfigWith(env, 'worker-b.json', (c) => {
      delete c.s3.regions['us-east-1'];
    });
    const a = await env.startWorker({
      BUNDLEFARM_CONFIG: configA,
      BUNDLEFARM_REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`,
      ...workerKeysEnv(keysA),
    });
    workers.push(a);

    const bucket = await env.bucket('fencing');
    // A's first part uploads are answered only after B can have taken the job over: unfenced, A would send its next parts then
    holdFirstPartUploads(env.eastProxy, bucket, LOCK_MS);
    const posted = await env.api('POST', '/v1/bundles', specFor([{ region: 'us-east-1', bucket, prefix: '' }], { name: 'fenced', level: 1 }));
    assert.equal(posted.status, 202, JSON.stringify(posted.json));
    const id: string = posted.json.id;
    await untilPartUploadBy(env.s3, keysA);

    const b = await env.startWorker({ BUNDLEFARM_CONFIG: configB, ...workerKeysEnv(keysB) });
    workers.push(b);
    redisProxy.cut();

    const done = await untilJobFinished(env.queue, id);
    assert.equal(await done.getState(), 'completed', `${done.failedReason ?? ''}\nA:\n${a.output()}\nB:\n${b.output()}`);
    // until A has shown what it does: fenced itself, or wrote after B's first write
    await untilFencedOrLate(env, { keys: keysA, worker: a }, keysB);
    assert.equal(b.records().filter((r) => r.jobId === id && r.msg === 'job completed').length, 1);
    assertCutWorkerWroteFirst(env, { keys: keysA, worker: a }, keysB);

    await assertSoleBundle(env.client, bucket, '', 'fenced', env.user.certificate);
    assert.equal(await unbundleWithCli(env.client, bucket, 'fenced.manifest.xml', { key: env.userKey, cert: env.userCert }), env.image.sha256);
  });
});
