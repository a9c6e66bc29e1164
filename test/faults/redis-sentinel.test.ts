import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { BUNDLE_QUEUE, createRedis, type BundleJobData, type BundleJobProgress, type BundleJobResult } from '@bundlefarm/queue';
import { apiRequest } from '../helpers/api-request.js';
import { s3Requests } from '../helpers/fault-proxy.js';
import { sentinelAvailable, startSentinelGroup, type SentinelGroup } from '../helpers/redis-sentinel.js';
import { requireOrSkip } from '../helpers/requirements.js';
import { startApiProcess, type ApiProcess } from '../helpers/service-processes.js';
import { PREFIX, TOKEN, serviceEnvironment, specFor, until, type WorkerProcess } from '../service/service-environment.js';
import { assertSoleBundle, unbundleWithCli } from './published-bundles.js';

/**
 * A Redis Sentinel group (master, one replica, three sentinels: real processes on loopback) under the
 * API process and two worker processes, all given one redis+sentinel:// URL. The master is SIGKILLed
 * while a job uploads, right after the API accepted another. Without anyone restarting anything: the
 * sentinels promote the replica, the API and the workers follow it, the running job completes in its
 * first attempt and exactly once, and the job accepted just before the kill is not lost — the API
 * answered 202 only once the replica had it (WAIT 1, the default with a Sentinel URL). Both bundles
 * unbundle to the image.
 *
 * The job lock (30 s) outlasts the failover (the master deemed down after 1 s, a few seconds to elect)
 * more than twice over, as docs/service.md "Redis high availability" asks of a deployment.
 */
const skip = requireOrSkip('tools', sentinelAvailable(), 'redis-server with Sentinel support (redis-sentinel) not found (apt-get install redis-server redis-sentinel)');

describe('Redis Sentinel failover under running jobs', { skip, timeout: 240_000 }, () => {
  it('the API and the workers follow the new master; the running job completes once, the one just accepted is not lost', { timeout: 240_000 }, async () => {
    const group: SentinelGroup = await startSentinelGroup();
    const processes: Array<ApiProcess | WorkerProcess> = [];
    let view: Queue<BundleJobData, BundleJobResult> | undefined;
    let connection: ReturnType<typeof createRedis> | undefined;
    after(async () => {
      await Promise.all(processes.map((p) => p.stop('SIGKILL')));
      await view?.close().catch(() => {});
      connection?.disconnect();
      await group.dispose();
    });
    const env = await serviceEnvironment({ worker: { lockDurationMs: 30_000 }, proxyEast: true });
    const userFiles = { key: env.userKey, cert: env.userCert };
    // the test's own view of the queue, through the sentinels too
    connection = createRedis({ url: group.url });
    connection.on('error', () => {});
    view = new Queue<BundleJobData, BundleJobResult>(BUNDLE_QUEUE, { connection, prefix: PREFIX });
    view.on('error', () => {});

    const api = await startApiProcess({
      BUNDLEFARM_API_TOKENS: TOKEN,
      BUNDLEFARM_REDIS_URL: group.url,
      BUNDLEFARM_QUEUE_PREFIX: PREFIX,
      BUNDLEFARM_IMAGE_ROOT: env.imageRoot,
      BUNDLEFARM_JOB_ATTEMPTS: '3',
      BUNDLEFARM_JOB_BACKOFF_MS: '200',
      BUNDLEFARM_LOG_LEVEL: 'info',
    });
    processes.push(api);
    const workers = await Promise.all([env.startWorker({ BUNDLEFARM_REDIS_URL: group.url }), env.startWorker({ BUNDLEFARM_REDIS_URL: group.url })]);
    processes.push(...workers);

    const submit = async (name: string, bucket: string): Promise<string> => {
      const r = await apiRequest(api.url, TOKEN, 'POST', '/v1/bundles', specFor([{ region: 'us-east-1', bucket, prefix: '' }], { name, level: 1 }));
      assert.equal(r.status, 202, JSON.stringify(r.json));
      return (r.json as { id: string }).id;
    };
    const finished = (id: string): Promise<any> =>
      until(
        `job ${id} to finish`,
        async () => {
          const s = await apiRequest(api.url, TOKEN, 'GET', `/v1/bundles/${id}`);
          return s.status === 200 && (s.json as { finished?: unknown }).finished ? s.json : undefined;
        },
        180_000,
        100,
      );

    // no replica acknowledges: the API does not claim to have accepted the job (the replica is stopped
    // for good measure; on the kill of the master, such a job could be lost)
    group.pauseReplica();
    const unsure = await apiRequest(api.url, TOKEN, 'POST', '/v1/bundles', specFor([{ region: 'us-east-1', bucket: await env.bucket('sentinel-unsure'), prefix: '' }], { name: 'sentinel-unsure', level: 1 }));
    await group.resumeReplica();
    assert.equal(unsure.status, 503, JSON.stringify(unsure.json));
    assert.equal((unsure.json as { error?: string }).error, 'BF_QUEUE_UNAVAILABLE');
    assert.match(JSON.stringify(unsure.json), /reached 0 of 1 Redis replicas/);

    // the running job's parts are answered slowly: it is still uploading when the master dies
    const runningBucket = await env.bucket('sentinel-running');
    const acceptedBucket = await env.bucket('sentinel-accepted');
    env.eastProxy.addFault({ match: (q) => q.method === 'PUT' && q.path.includes('.part.') && s3Requests.inBucket(runningBucket)(q), action: { type: 'delay', ms: 700 } });
    const running = await submit('sentinel-running', runningBucket);
    await until(
      'the job to upload',
      async () => {
        const job = await view.getJob(running);
        return ((job?.progress as BundleJobProgress | undefined)?.partsDone ?? 0) >= 1 || undefined;
      },
      120_000,
      20,
    );

    // accepted (202: the replica has it), then the master dies at once
    const accepted = await submit('sentinel-accepted', acceptedBucket);
    await group.killMaster();
    const newMaster = await group.failedOver(group.masterPort);
    assert.equal(newMaster, group.replicaPort, 'the replica is the master now');

    const first = await finished(running);
    assert.equal(first.state, 'completed', JSON.stringify(first.error));
    assert.equal(first.attempts.started, 1, 'the running job rode the failover out in its first attempt');
    const second = await finished(accepted);
    assert.equal(second.state, 'completed', `the job accepted before the kill: ${JSON.stringify(second.error)}`);
    env.resetFaults();

    const done = new RegExp(`"jobId":"${running}".*"msg":"job completed`);
    const lines = workers.flatMap((w) => w.output().split('\n').filter((l) => done.test(l)));
    assert.equal(lines.length, 1, 'one "job completed" for the running job across the workers');

    for (const [name, bucket] of [
      ['sentinel-running', runningBucket],
      ['sentinel-accepted', acceptedBucket],
    ] as const) {
      await assertSoleBundle(env.client, bucket, '', name, env.user.certificate);
      assert.equal(await unbundleWithCli(env.client, bucket, `${name}.manifest.xml`, userFiles), env.image.sha256, name);
    }

    // the API counts the queue as up on the new master and still stops cleanly
    const ready = await fetch(`${api.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal((await api.stop('SIGTERM')).code, 0, api.output());
    for (const w of workers) await w.stop('SIGTERM');
    for (const w of workers) assert.equal(w.child.exitCode, 0, w.output());
  });
});
