import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { apiRequest } from '../helpers/api-request.js';
import { GOV_REGION } from '../helpers/environment-setup.js';
import { clusterAvailable, startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster.js';
import { requireOrSkip } from '../helpers/requirements.js';
import { startApiProcess, type ApiProcess } from '../helpers/service-processes.js';
import { TOKEN, serviceEnvironment, specFor, until, type WorkerProcess } from '../service/service-environment.js';
import { assertSoleBundle, unbundleWithCli } from './published-bundles.js';

/**
 * A real 3-master Redis Cluster (six redis-server --cluster-enabled yes, one replica each) under the API
 * process and two worker processes, all given one redis+cluster:// URL and no queue prefix: the API
 * takes the default {bundlefarm} (a hash tag: every key of the queue, BullMQ's and bundlefarm's own, in
 * one slot), the workers are given the same. Two jobs, each to two regions, complete and unbundle to the
 * image, and no key is left outside that slot.
 */
const skip = requireOrSkip('tools', clusterAvailable(), 'redis-server and redis-cli not found (apt-get install redis-server redis-tools)');

describe('Redis Cluster', { skip, timeout: 240_000 }, () => {
  it('the API and two workers run jobs to two regions through a 3-master cluster', { timeout: 240_000 }, async () => {
    const cluster: TestRedisCluster = await startRedisCluster();
    const processes: Array<ApiProcess | WorkerProcess> = [];
    after(async () => {
      await Promise.all(processes.map((p) => p.stop('SIGKILL')));
      await cluster.dispose();
    });
    const env = await serviceEnvironment({ worker: { lockDurationMs: 30_000 } });
    const userFiles = { key: env.userKey, cert: env.userCert };

    const api = await startApiProcess({
      BUNDLEFARM_API_TOKENS: TOKEN,
      BUNDLEFARM_REDIS_URL: cluster.url,
      BUNDLEFARM_IMAGE_ROOT: env.imageRoot,
      BUNDLEFARM_LOG_LEVEL: 'info',
    });
    processes.push(api);
    const workerEnv = { BUNDLEFARM_REDIS_URL: cluster.url, BUNDLEFARM_QUEUE_PREFIX: '{bundlefarm}' };
    const workers = await Promise.all([env.startWorker(workerEnv), env.startWorker(workerEnv)]);
    processes.push(...workers);

    const jobs: Array<{ id: string; name: string; east: string; gov: string }> = [];
    for (const name of ['cluster-1', 'cluster-2']) {
      const east = await env.bucket(name);
      const gov = await env.bucket(name, GOV_REGION);
      const spec = specFor(
        [
          { region: 'us-east-1', bucket: east, prefix: '' },
          { region: GOV_REGION, bucket: gov, prefix: '' },
        ],
        { name, level: 1 },
      );
      const r = await apiRequest(api.url, TOKEN, 'POST', '/v1/bundles', spec);
      assert.equal(r.status, 202, JSON.stringify(r.json));
      jobs.push({ id: (r.json as { id: string }).id, name, east, gov });
    }
    for (const job of jobs) {
      const status = await until(
        `job ${job.name} to finish`,
        async () => {
          const s = await apiRequest(api.url, TOKEN, 'GET', `/v1/bundles/${job.id}`);
          return s.status === 200 && (s.json as { finished?: unknown }).finished ? (s.json) : undefined;
        },
        180_000,
        100,
      );
      assert.equal(status.state, 'completed', `${job.name}: ${JSON.stringify(status.error)}`);
      await assertSoleBundle(env.client, job.east, '', job.name, env.user.certificate);
      await assertSoleBundle(env.clientFor(GOV_REGION), job.gov, '', job.name, env.user.certificate);
      assert.equal(await unbundleWithCli(env.client, job.east, `${job.name}.manifest.xml`, userFiles), env.image.sha256, job.name);
      assert.equal(await unbundleWithCli(env.clientFor(GOV_REGION), job.gov, `${job.name}.manifest.xml`, userFiles), env.image.sha256, `${job.name} (GovCloud)`);
    }

    // every key the API, the workers and BullMQ wrote is under the hash-tagged prefix: one slot
    const keys: string[] = [];
    for (const port of cluster.ports) {
      const node = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      try {
        if (/role:master/.test(await node.info('replication'))) keys.push(...(await node.keys('*')));
      } finally {
        node.disconnect();
      }
    }
    assert.ok(keys.length > 0, 'the cluster holds the queue');
    assert.deepEqual(keys.filter((k) => !k.startsWith('{bundlefarm}:')), [], 'no key outside the {bundlefarm} slot');

    assert.equal((await api.stop('SIGTERM')).code, 0, api.output());
    for (const w of workers) await w.stop('SIGTERM');
    for (const w of workers) assert.equal(w.child.exitCode, 0, w.output());
  });
});
