import assert from 'node:assert/strict';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { after, describe, it } from 'node:test';
import { Job, QueueEvents } from 'bullmq';
import { BUNDLE_QUEUE, jobOptions, type BundleJobData, type BundleJobResult } from '@bundlefarm/queue';
import { GOV_REGION as GOV } from '../helpers/environment-setup.js';
import { s3Requests, type RequestInfo } from '../helpers/fault-proxy.js';
import { PREFIX, listKeys, serviceEnvironment, specFor, until, type WorkerProcess } from '../service/service-environment.js';
import { assertSoleBundle, unbundleWithCli, watchManifests } from './published-bundles.js';

/**
 * A worker process killed (SIGKILL) in the middle of a job, everything real: Redis, the S3 front (us-east-1
 * and us-gov-west-1 through fault proxies), worker processes with a 3 s job lock. The job's lock runs
 * out, another worker process takes the job over and finishes it; the job completes exactly once, and
 * each region ends up with exactly one consistent bundle (byte for byte the image, through the CLI).
 *
 * While the second worker redoes the job, a watch reads every manifest visible in the buckets and
 * verifies its bundle: no manifest may ever be visible while a part it names is missing or was written
 * by another attempt. The sharpest case is a worker killed after its first region's manifest reached
 * S3 but before the job recorded that region as published: the retry must take that manifest down
 * before it overwrites the parts it names.
 */
const LOCK_MS = 3_000;
const env = await serviceEnvironment({ proxyEast: true, worker: { lockDurationMs: LOCK_MS } });
const events = new QueueEvents(BUNDLE_QUEUE, { connection: { host: '127.0.0.1', port: env.redis.port }, prefix: PREFIX });
await events.waitUntilReady();
after(() => events.close());
/** 'completed' events per job id: each job must complete exactly once. */
const completions = new Map<string, number>();
events.on('completed', ({ jobId }) => completions.set(jobId, (completions.get(jobId) ?? 0) + 1));

const SLOW = { timeout: 150_000 };
const isPartPut = (r: RequestInfo): boolean => r.method === 'PUT' && r.path.includes('.part.');
const partPutIn = (bucket: string) => (r: RequestInfo): boolean => isPartPut(r) && s3Requests.inBucket(bucket)(r);
const userFiles = { key: env.userKey, cert: env.userCert };

type BundleJob = Job<BundleJobData, BundleJobResult>;

function add(name: string, east: string, gov: string): Promise<BundleJob> {
  const spec = specFor(
    [
      { region: 'us-east-1', bucket: east, prefix: 'os' },
      { region: 'us-gov-west-1', bucket: gov, prefix: '' },
    ],
    { name, level: 1 },
  );
  return env.queue.add(name, { spec: spec as unknown as BundleJobData['spec'], source: 'test' }, jobOptions({ attempts: 3, backoffMs: 200 }));
}

/** The worker that started the job, and the other one. */
async function ownerOf(job: BundleJob, workers: readonly WorkerProcess[]): Promise<[WorkerProcess, WorkerProcess]> {
  const started = new RegExp(`"jobId":"${job.id}".*"msg":"job started"`);
  const owner = await until('a worker to start the job', () => workers.find((w) => started.test(w.output())), 30_000);
  return [owner, workers.find((w) => w !== owner)!];
}

/** Watches the manifests of both regions' places (see watchManifests). */
function watchBoth(east: string, gov: string): ReturnType<typeof watchManifests> {
  return watchManifests(
    (region) => env.s3.endpointFor(region),
    [
      { bucket: east, prefix: 'os/' },
      { bucket: gov, prefix: '', region: GOV },
    ],
    env.user.certificate,
  );
}

/** Log lines of `job` with this message, across the workers. */
function logLines(job: BundleJob, workers: readonly WorkerProcess[], msg: string): string[] {
  const line = new RegExp(`"jobId":"${job.id}".*"msg":"${msg}`);
  return workers.flatMap((w) => w.output().split('\n').filter((l) => line.test(l)));
}

async function finished(job: BundleJob): Promise<BundleJob> {
  await job.waitUntilFinished(events, 120_000).catch(() => {});
  const fresh = await Job.fromId<BundleJobData, BundleJobResult>(env.queue, job.id!);
  assert.ok(fresh, 'the job is still in the queue');
  return fresh;
}

/** The takeover shows as one stall and a second start; the job completed once, on `survivor`. */
async function assertCompletedOnceBy(done: BundleJob, survivor: WorkerProcess, killed: WorkerProcess): Promise<void> {
  assert.equal(await done.getState(), 'completed', done.failedReason);
  assert.equal(done.stalledCounter, 1, 'taken over after its lock ran out, once');
  assert.equal(done.attemptsStarted, 2);
  assert.equal(logLines(done, [killed], 'job completed').length, 0, 'the killed worker never completed it');
  assert.equal(logLines(done, [survivor], 'job started').length, 1);
  assert.equal(logLines(done, [killed, survivor], 'job completed').length, 1, 'one "job completed" across the workers');
  await until('the completed event', () => completions.has(done.id!) || undefined);
  assert.equal(completions.get(done.id!), 1, 'BullMQ reported the completion once');
}

/** Every region's bundle gives the image back, byte for byte, through the CLI. */
async function assertRoundTrips(done: BundleJob): Promise<void> {
  const regions = Object.entries(done.returnvalue.regions);
  assert.equal(regions.length, 2);
  const images = await Promise.all(regions.map(([region, r]) => unbundleWithCli(env.clientFor(region), r.bucket, r.manifestKey!, userFiles)));
  assert.deepEqual(images, [env.image.sha256, env.image.sha256]);
}

describe('a worker process killed mid-job (SIGKILL)', SLOW, () => {
  it('another worker takes the job over after the lock expires and finishes it: one consistent bundle per region', SLOW, async () => {
    const east = await env.bucket('crash-east');
    const gov = await env.bucket('crash-gov', GOV);
    // GovCloud part uploads answer slowly: the job is surely mid-upload when its worker dies, and the
    // takeover's upload lasts long enough for the watch to look at the buckets throughout
    env.govProxy.addFault({ match: partPutIn(gov), action: { type: 'delay', ms: 700 } });
    const workers = await Promise.all([env.startWorker(), env.startWorker()]);
    try {
      const job = await add('crash-mid-upload', east, gov);
      const [owner, survivor] = await ownerOf(job, workers);
      await until('a part upload to GovCloud', () => env.govProxy.requests.some(partPutIn(gov)) || undefined);
      await owner.stop('SIGKILL');
      assert.equal(logLines(job, [owner], 'region published').length, 0, 'killed before publishing anything');

      const watch = watchBoth(east, gov);
      const done = await finished(job);
      const seen = await watch.stop();
      assert.deepEqual(seen.violations, []);
      assert.ok(seen.rounds > 0, 'the watch looked');

      await assertCompletedOnceBy(done, survivor, owner);
      await assertSoleBundle(env.client, east, 'os/', 'crash-mid-upload', env.user.certificate);
      await assertSoleBundle(env.clientFor(GOV), gov, '', 'crash-mid-upload', env.user.certificate);
      await assertRoundTrips(done);
      await survivor.stop('SIGTERM');
    } finally {
      env.resetFaults();
      // a worker left running by a failure here must not take the next test's job
      await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    }
  });

  it('killed between publishing a manifest and recording it: the retry withdraws it before overwriting its parts', SLOW, async () => {
    const east = await env.bucket('window-east');
    const gov = await env.bucket('window-gov', GOV);
    const manifestKey = 'os/window.manifest.xml';
    // the first us-east-1 manifest PUT reaches S3 but its answer is held back: the worker dies while
    // its manifest is visible and the job does not yet say the region was published
    env.eastProxy.addFault({ match: (r) => r.method === 'PUT' && r.path === `/${east}/${manifestKey}`, times: 1, action: { type: 'delay', ms: 120_000 } });
    const workers = await Promise.all([env.startWorker(), env.startWorker()]);
    try {
      const job = await add('window', east, gov);
      const [owner, survivor] = await ownerOf(job, workers);
      await until('the us-east-1 manifest in S3', async () => (await listKeys(env.client, east, 'os/')).includes(manifestKey) || undefined, 60_000);
      const before = await env.queue.getJob(job.id!);
      assert.equal(before?.data.completedRegions?.['us-east-1'], undefined, 'not recorded as published yet');
      await owner.stop('SIGKILL');
      // the takeover's GovCloud parts answer slowly: its us-east-1 parts are all rewritten seconds
      // before it can publish, and the watch gets many looks should the old manifest still be up
      env.govProxy.addFault({ match: partPutIn(gov), action: { type: 'delay', ms: 1_500 } });

      // what an earlier attempt of this job could have left beside it (marked as the job's, as everything
      // it writes): a part the new manifest will not name, and a preflight probe of a run killed
      // mid-preflight; and, named like a part, an object another writer put there, which is not the job's
      const parts = await listKeys(env.client, east, 'os/window.part.');
      const width = parts[0]!.length - 'os/window.part.'.length;
      const extra = `window.part.${String(parts.length + 2).padStart(width, '0')}`;
      const foreign = `os/window.part.${String(parts.length + 3).padStart(width, '0')}`;
      // x-amz-meta-bundlefarm-job, as the worker marks what a job writes
      const own = { 'bundlefarm-job': `${job.id}@${job.timestamp}` };
      const planted = [
        ['us-east-1', east, `os/${extra}`, own],
        ['us-east-1', east, 'os/.bundlefarm-preflight-00112233aabbccdd', own],
        [GOV, gov, extra, own],
        ['us-east-1', east, `elsewhere/${extra}`, own],
        ['us-east-1', east, foreign, {}],
      ] as const;
      for (const [region, bucket, key, metadata] of planted) {
        await env.clientFor(region).send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'left over', Metadata: metadata }));
      }

      const watch = watchBoth(east, gov);
      const done = await finished(job);
      const seen = await watch.stop();
      assert.deepEqual(seen.violations, [], 'no manifest was visible while a part it names was missing or another attempt’s');
      assert.ok(seen.rounds > 0, 'the watch looked');

      await assertCompletedOnceBy(done, survivor, owner);
      assert.ok((await listKeys(env.client, east, 'os/')).includes(foreign), 'another writer’s object named like a part is left alone');
      await env.client.send(new DeleteObjectCommand({ Bucket: east, Key: foreign }));
      await assertSoleBundle(env.client, east, 'os/', 'window', env.user.certificate);
      await assertSoleBundle(env.clientFor(GOV), gov, '', 'window', env.user.certificate);
      assert.deepEqual(await listKeys(env.client, east, 'elsewhere/'), [`elsewhere/${extra}`], 'keys of another prefix are not touched');
      assert.equal(logLines(done, [survivor], 'removed leftovers of earlier attempts').length, 2, 'one cleanup per region');
      await assertRoundTrips(done);
      await survivor.stop('SIGTERM');
    } finally {
      env.resetFaults();
      // a worker left running by a failure here must not take the next test's job
      await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    }
  });
});
