import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Job } from 'bullmq';
import { unbundle, verifyBundle } from '@bundlefarm/engine';
import { parseManifest, unwrapWithKey } from '@bundlefarm/format';
import { jobOptions, type BundleJobData, type BundleJobResult, type JobSpecInput } from '@bundlefarm/queue';
import { S3PartSource } from '@bundlefarm/s3';
import { GOV_REGION } from '@bundlefarm/testkit/environment-setup.js';
import { tempDir } from '@bundlefarm/testkit/temp-dir.js';
import { sha256File, workerEnvironment } from './worker-environment.js';
import { dumpRedis, findSecrets, getObject, listKeys, pemForms, secretForms, until, writeJson, type WorkerProcess } from './worker-fixture.js';

/**
 * Graceful shutdown of real worker processes: SIGTERM stops taking jobs, gives a running job the
 * grace period, then hands it back to the queue — where another worker process takes it and finishes
 * it, leaving exactly one consistent bundle per region, and not counting a failed attempt.
 */
const env = await workerEnvironment({ shutdownGraceMs: 300 });
const patientConfig = await writeJson(join(env.dir, 'worker-patient.json'), {
  ...(JSON.parse(await readFile(env.configFile, 'utf8')) as object),
  shutdownGraceMs: 30_000,
});

const SLOW_TEST = { timeout: 120_000 };
const isPartPut = (r: { method: string; path: string }): boolean => r.method === 'PUT' && r.path.includes('.part.');

function spec(east: string, gov: string): JobSpecInput {
  return {
    name: 'db',
    image: env.image.path,
    architecture: 'x86_64',
    accountId: '123456789012',
    identity: 'release',
    regions: [
      { region: 'us-east-1', bucket: east, prefix: 'db' },
      { region: 'us-gov-west-1', bucket: gov, prefix: '' },
    ],
    level: 1,
  };
}

async function add(east: string, gov: string): Promise<Job<BundleJobData, BundleJobResult>> {
  return env.queue.add('db', { spec: spec(east, gov) as BundleJobData['spec'], source: 'test' }, jobOptions({ attempts: 3, backoffMs: 200 }));
}

async function finished(job: Job<BundleJobData, BundleJobResult>): Promise<Job<BundleJobData, BundleJobResult>> {
  await job.waitUntilFinished(env.events, 90_000).catch(() => {});
  const fresh = await Job.fromId<BundleJobData, BundleJobResult>(env.queue, job.id!);
  assert.ok(fresh);
  return fresh;
}

/** The region holds exactly one bundle: its manifest and the parts it names, each intact. Returns the AES key and IV. */
async function assertOneConsistentBundle(result: BundleJobResult, region: string): Promise<Buffer[]> {
  const r = result.regions[region]!;
  const client = env.clientFor(region);
  const parsed = parseManifest(await getObject(client, r.bucket, r.manifestKey!));
  const prefix = r.manifestKey!.slice(0, r.manifestKey!.lastIndexOf('/') + 1);
  assert.deepEqual(await listKeys(client, r.bucket), [r.manifestKey!, ...parsed.manifest.image.parts.map((p) => prefix + p.filename)].sort());
  await verifyBundle({ manifest: parsed, source: new S3PartSource({ client, bucket: r.bucket, prefix }), certificate: env.user.certificate });
  return [
    unwrapWithKey(parsed.manifest.image.userEncryptedKey, env.user.privateKey, 'key'),
    unwrapWithKey(parsed.manifest.image.userEncryptedIv, env.user.privateKey, 'IV'),
  ];
}

const workers: WorkerProcess[] = [];
const secrets: Buffer[] = [];

describe('worker shutdown (real worker processes)', SLOW_TEST, () => {
  it('an idle worker exits 0 promptly on SIGTERM', SLOW_TEST, async () => {
    const w = await env.startWorker();
    workers.push(w);
    const t0 = Date.now();
    const { code } = await w.stop('SIGTERM');
    assert.equal(code, 0, w.output());
    assert.ok(Date.now() - t0 < 5_000, `took ${Date.now() - t0} ms`);
    assert.match(w.output(), /"msg":"worker stopped"/);
  });

  it('a job that finishes within the grace period completes on the worker that was stopped', SLOW_TEST, async () => {
    const east = await env.bucket('east');
    const gov = await env.bucket('gov', GOV_REGION);
    env.govProxy.addFault({ match: isPartPut, action: { type: 'delay', ms: 800 } });
    env.govProxy.resetRecords();
    try {
      const w = await env.startWorker({ BUNDLEFARM_CONFIG: patientConfig });
      workers.push(w);
      const job = await add(east, gov);
      await until('a part upload', () => env.govProxy.requests.some(isPartPut) || undefined);
      const { code } = await w.stop('SIGTERM');
      assert.equal(code, 0, w.output());
      const done = await finished(job);
      assert.equal(await done.getState(), 'completed', done.failedReason);
      assert.equal(done.attemptsMade, 1);
      assert.equal(done.attemptsStarted, 1);
      assert.match(w.output(), new RegExp(`"jobId":"${done.id}".*"msg":"job completed"`));
      for (const region of ['us-east-1', 'us-gov-west-1']) secrets.push(...(await assertOneConsistentBundle(done.returnvalue, region)));
    } finally {
      env.resetFaults();
    }
  });

  it('SIGTERM mid-job hands the job back: a second worker process completes it, one bundle per region', SLOW_TEST, async () => {
    const east = await env.bucket('east');
    const gov = await env.bucket('gov', GOV_REGION);
    // GovCloud part uploads answer after 30 s: the first worker is surely caught mid-upload when the SIGTERM
    // comes (starting the second worker process takes seconds on a loaded machine: with 3 s, A had sometimes
    // uploaded everything and was publishing, which a stop lets finish), and its grace (300 ms) runs out
    env.govProxy.addFault({ match: isPartPut, action: { type: 'delay', ms: 30_000 } });
    env.govProxy.resetRecords();
    const a = await env.startWorker();
    workers.push(a);
    const job = await add(east, gov);
    await until('worker A uploading', () => env.govProxy.requests.some(isPartPut) || undefined);
    const b = await env.startWorker();
    workers.push(b);

    const stopped = a.stop('SIGTERM');
    env.resetFaults();
    const { code } = await stopped;
    assert.equal(code, 0, a.output());
    assert.match(a.output(), new RegExp(`"jobId":"${job.id}".*"msg":"job handed back to the queue`));
    assert.doesNotMatch(a.output(), /"msg":"job completed"/);

    const done = await finished(job);
    assert.equal(await done.getState(), 'completed', done.failedReason);
    // the worker logs it before the job completes, but its output may reach us after Redis's news does
    await b.waitForLog(new RegExp(`"jobId":"${job.id}".*"msg":"job completed"`));
    // two runs, one attempt: handing back is not a failure
    assert.equal(done.attemptsStarted, 2);
    assert.equal(done.attemptsMade, 1);
    assert.equal(done.failedReason ?? '', '');
    assert.equal(done.stalledCounter, 0, 'handed back, not left to stall');

    const result = done.returnvalue;
    for (const region of ['us-east-1', 'us-gov-west-1']) secrets.push(...(await assertOneConsistentBundle(result, region)));
    const out = await tempDir();
    const r = result.regions['us-east-1']!;
    const image = await unbundle({
      manifest: parseManifest(await getObject(env.client, r.bucket, r.manifestKey!)),
      privateKey: env.user.privateKey,
      source: new S3PartSource({ client: env.client, bucket: r.bucket, prefix: 'db' }),
      destination: out,
    });
    assert.equal(await sha256File(image.path), env.image.sha256);

    // progress of the handed-back run went back to "queued"; the second run reached 100 %
    const events = env.progress.get(job.id!)!;
    assert.ok(events.some((p) => p.stage === 'queued'));
    assert.equal(events.at(-1)!.percent, 100);

    const { code: bCode } = await b.stop('SIGTERM');
    assert.equal(bCode, 0, b.output());
  });

  it('leaves no secret in Redis or in either worker log', SLOW_TEST, async () => {
    assert.ok(secrets.length >= 4);
    const needles: Record<string, string[]> = {
      'private key PEM': pemForms(env.user.privateKeyPem),
      'S3 secret access key': secretForms(env.credentials.secretAccessKey),
      'S3 access key id': secretForms(env.credentials.accessKeyId),
    };
    secrets.forEach((s, i) => (needles[`AES key/IV #${i}`] = secretForms(s)));
    assert.deepEqual(findSecrets(await dumpRedis(env.redis.url), needles), []);
    for (const w of workers) assert.deepEqual(findSecrets(w.output(), needles), []);
  });
});
