/*
 * A network partition between hosts (issue 13): a worker whose host loses its route to Redis, but not
 * to S3, stops writing to S3 before the worker on another host that takes its job over writes, and
 * the bundle that one publishes is intact.
 *
 * Each worker process runs in a network namespace of its own (test/helpers/network-namespace.ts: a
 * veth pair each, `ip netns exec`); Redis, the S3 stand-in and the API stay in the root namespace.
 * Redis listens on each host's root-side Redis address, and each host reaches the S3 front through a
 * fault proxy listening on its root-side S3 address (the front sees both; each worker signs with a key
 * pair of its own, which is how its requests are told apart in the front's log). Worker A takes the
 * job and uploads its parts one at a time; its first part answers are held until B can have taken over
 * (unfenced, A would send its next parts then). While A uploads, the test deletes A's route to Redis
 * inside A's namespace: A's Redis connection hangs as over a dead link, its S3 route stays. Worker B
 * takes the job over once A's lock has expired. From the S3 front's log: every write of A arrived —
 * and, if answered, was answered — before B's first write arrived; A says it fenced itself; the bundle
 * B published verifies and unbundles to the image.
 *
 * Needs root and working `ip netns` (skipped with the reason printed otherwise; a missing `ip` fails
 * under BUNDLEFARM_REQUIRE_TOOLS=1). The namespaces and veth pairs are deleted in `after`, and by the
 * exit reaper however the process ends.
 */
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { after, describe, it } from 'node:test';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { holdFirstPartUploads, untilJobFinished, untilPartUploadBy, workerKeys, workerKeysEnv } from '../helpers/job-takeover.js';
import { addNetworkHosts, needsNetworkNamespaces, type NetworkHost } from '../helpers/network-namespace.js';
import { serviceEnvironment, specFor, type ServiceEnvironment, type WorkerProcess } from '../service/service-environment.js';
import { assertSoleBundle, unbundleWithCli } from './published-bundles.js';
import { assertCutWorkerWroteFirst, untilFencedOrLate, workerConfigWith } from './takeover-order.js';

const LOCK_MS = 8_000;

interface Partitioned {
  env: ServiceEnvironment;
  hosts: { a: NetworkHost; b: NetworkHost };
  /** The S3 front as each host reaches it. */
  s3: { a: FaultProxy; b: FaultProxy };
  workers: WorkerProcess[];
}

/** Two hosts, then the service with Redis listening on their Redis addresses, then an S3 proxy per host. */
async function partitionedService(): Promise<Partitioned> {
  const [a, b] = (await addNetworkHosts(2, 'bf-partition')) as [NetworkHost, NetworkHost];
  const workers: WorkerProcess[] = [];
  const proxies: FaultProxy[] = [];
  // registered first, so it runs first: the workers stop before their namespaces go
  after(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await Promise.all(proxies.map((p) => p.close()));
    await a.dispose();
    await b.dispose();
  });
  const env = await serviceEnvironment({ worker: { lockDurationMs: LOCK_MS, shutdownGraceMs: 300 }, redis: { bind: [a.redisAddress, b.redisAddress] } });
  env.queue.on('error', () => {});
  for (const host of [a, b]) proxies.push(await startFaultProxy({ target: env.s3.endpoint, host: host.s3Address }));
  return { env, hosts: { a, b }, s3: { a: proxies[0]!, b: proxies[1]! }, workers };
}

const skip = await needsNetworkNamespaces();
const world = skip ? undefined : await partitionedService();

describe('a network partition between hosts: a worker cut off from Redis but not from S3', { skip, timeout: 240_000 }, () => {
  it('stops writing before the worker that takes its job over writes; the published bundle is intact', { timeout: 240_000 }, async () => {
    assert.ok(world);
    const { env, hosts, s3, workers } = world;
    const keysA = workerKeys();
    const keysB = workerKeys();
    // each host: Redis and S3 (us-east-1, the only region of the job) at its root-side addresses; A one part at a time
    const configFor = (name: string, proxy: FaultProxy, more: (c: any) => void = () => {}): Promise<string> =>
      workerConfigWith(env, name, (c) => {
        c.s3.endpoint = proxy.endpoint;
        c.s3.regions = { 'us-east-1': { endpoint: proxy.endpoint } };
        more(c);
      });
    const configA = await configFor('worker-a.json', s3.a, (c) => (c.s3.partsInFlight = 1));
    const configB = await configFor('worker-b.json', s3.b);
    const redisUrl = (host: NetworkHost): string => `redis://${host.redisAddress}:${env.redis.port}`;

    const a = await env.startWorker({ BUNDLEFARM_CONFIG: configA, BUNDLEFARM_REDIS_URL: redisUrl(hosts.a), ...workerKeysEnv(keysA) }, { wrap: hosts.a.wrap });
    workers.push(a);

    const bucket = await env.bucket('partition');
    // A's first part uploads are answered only after B can have taken the job over: unfenced, A would send its next parts then
    holdFirstPartUploads(s3.a, bucket, LOCK_MS);
    const posted = await env.api('POST', '/v1/bundles', specFor([{ region: 'us-east-1', bucket, prefix: '' }], { name: 'partitioned', level: 1 }));
    assert.equal(posted.status, 202, JSON.stringify(posted.json));
    const id: string = posted.json.id;
    await untilPartUploadBy(env.s3, keysA);

    const b = await env.startWorker({ BUNDLEFARM_CONFIG: configB, BUNDLEFARM_REDIS_URL: redisUrl(hosts.b), ...workerKeysEnv(keysB) }, { wrap: hosts.b.wrap });
    workers.push(b);
    await hosts.a.cutRedis();

    const done = await untilJobFinished(env.queue, id);
    assert.equal(await done.getState(), 'completed', `${done.failedReason ?? ''}\nA:\n${a.output()}\nB:\n${b.output()}`);
    await untilFencedOrLate(env, { keys: keysA, worker: a }, keysB);
    assert.equal(b.records().filter((r) => r.jobId === id && r.msg === 'job completed').length, 1);
    // each worker ran in its host's namespace (not the root's, where Redis stayed reachable)
    for (const [w, host] of [[a, hosts.a], [b, hosts.b]] as const) {
      assert.equal((await stat(`/proc/${w.child.pid}/ns/net`)).ino, (await stat(`/run/netns/${host.namespace}`)).ino);
    }
    assertCutWorkerWroteFirst(env, { keys: keysA, worker: a }, keysB);

    await assertSoleBundle(env.client, bucket, '', 'partitioned', env.user.certificate);
    assert.equal(await unbundleWithCli(env.client, bucket, 'partitioned.manifest.xml', { key: env.userKey, cert: env.userCert }), env.image.sha256);
  });
});
