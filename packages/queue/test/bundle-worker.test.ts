import assert from 'node:assert/strict';
import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Job } from 'bullmq';
import { unbundle, verifyBundle } from '@bundlefarm/engine';
import { WrongKeyError } from '@bundlefarm/errors';
import { parseManifest, unwrapWithKey, verifyManifestText, type ParsedManifest } from '@bundlefarm/format';
import { cancelChannel, DEFAULT_PREFIX, jobOptions, type BundleJobData, type BundleJobProgress, type BundleJobResult, type JobSpecInput } from '@bundlefarm/queue';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { S3PartSource } from '@bundlefarm/s3';
import { GOV_REGION } from '@bundlefarm/testkit/environment-setup.js';
import { writeRandomFile } from '@bundlefarm/testkit/images.js';
import { tempDir } from '@bundlefarm/testkit/temp-dir.js';
import { sha256File, workerEnvironment } from './worker-environment.js';
import { dumpRedis, findSecrets, getObject, headObject, listKeys, pemForms, secretForms, until } from './worker-fixture.js';

/**
 * The bundle worker end to end: a real worker process (apps/worker/bin) on a real Redis, uploading to
 * the S3 front (us-gov-west-1 at its own endpoint, reached through a fault proxy), jobs
 * added with BullMQ's own Queue. Tests run in order on one worker process; the last one scans Redis
 * and the worker's whole output for secrets.
 */
const env = await workerEnvironment();
const worker = await env.startWorker();

// an image outside the root, reachable through a symlink (to a file, and to a directory) inside it
await writeRandomFile(join(env.outside, 'secret.img'), 1024 * 1024, 3);
await symlink(join(env.outside, 'secret.img'), join(env.imageRoot, 'escape.img'));
await symlink(env.outside, join(env.imageRoot, 'linkdir'));
// and a symlink that stays inside
await writeFile(join(env.imageRoot, 'inside-link-target.img'), Buffer.alloc(4096, 1));
await symlink('inside-link-target.img', join(env.imageRoot, 'inside-link.img'));

/** AES keys and IVs of every bundle made here, for the secrets scan. */
const bundleSecrets: Buffer[] = [];

const SLOW_TEST = { timeout: 120_000 };

function spec(east: string, gov: string, extra: Partial<JobSpecInput> = {}): JobSpecInput {
  return {
    name: 'web',
    image: env.image.path,
    architecture: 'x86_64',
    accountId: '1234-5678-9012',
    identity: 'release',
    regions: [
      { region: 'us-east-1', bucket: east, prefix: 'bundles/web', kernelId: 'aki-12345678', ramdiskId: 'ari-0000aaaa' },
      { region: 'us-gov-west-1', bucket: gov, prefix: 'gov/', kernelId: 'aki-87654321' },
    ],
    blockDeviceMapping: [
      { virtual: 'ami', device: 'sda1' },
      { virtual: 'root', device: '/dev/sda1' },
    ],
    productCodes: ['ABC123'],
    level: 1,
    ...extra,
  };
}

async function add(s: unknown, attempts = 3): Promise<Job<BundleJobData, BundleJobResult>> {
  return env.queue.add('web', { spec: s as BundleJobData['spec'], source: 'test' }, jobOptions({ attempts, backoffMs: 200 }));
}

async function finished(job: Job<BundleJobData, BundleJobResult>): Promise<Job<BundleJobData, BundleJobResult>> {
  await job.waitUntilFinished(env.events, 90_000).catch(() => {});
  const fresh = await Job.fromId<BundleJobData, BundleJobResult>(env.queue, job.id!);
  assert.ok(fresh, `job ${job.id} is gone`);
  return fresh;
}

async function readManifest(bucket: string, key: string): Promise<ParsedManifest> {
  return parseManifest(await getObject(env.clientOf(bucket), bucket, key));
}

function sourceFor(bucket: string, manifestKey: string): S3PartSource {
  return new S3PartSource({ client: env.clientOf(bucket), bucket, prefix: manifestKey.slice(0, manifestKey.lastIndexOf('/') + 1) });
}

const STAGES = ['queued', 'preflight', 'bundling', 'uploading', 'publishing', 'done'];

function assertProgressSane(events: BundleJobProgress[]): void {
  assert.ok(events.length >= 3, `only ${events.length} progress events`);
  for (let i = 1; i < events.length; i++) {
    const [a, b] = [events[i - 1]!, events[i]!];
    assert.ok(b.percent >= a.percent, `percent went back from ${a.percent} to ${b.percent}`);
    assert.ok(STAGES.indexOf(b.stage) >= STAGES.indexOf(a.stage), `stage went back from ${a.stage} to ${b.stage}`);
    assert.ok(Number.isInteger(b.percent));
  }
  const last = events.at(-1)!;
  assert.equal(last.stage, 'done');
  assert.equal(last.percent, 100);
}

describe('bundle worker (real worker process, Redis, the S3 front)', SLOW_TEST, () => {
  it('bundles once into two regions: parts and a signed manifest per region, each encrypted for its partition', SLOW_TEST, async () => {
    const east = await env.bucket('east');
    const gov = await env.bucket('gov', GOV_REGION);
    const job = await add(spec(east, gov));
    const done = await finished(job);
    assert.equal(await done.getState(), 'completed', done.failedReason);
    const result = done.returnvalue;
    assert.equal(done.attemptsMade, 1);

    assert.equal(result.name, 'web');
    assert.equal(result.size, env.image.size);
    assert.ok(result.parts >= 3, `${result.parts} parts`);
    assert.deepEqual(Object.keys(result.regions), ['us-east-1', 'us-gov-west-1']);
    assert.equal(result.regions['us-east-1']!.manifestKey, 'bundles/web/web.manifest.xml');
    assert.equal(result.regions['us-gov-west-1']!.manifestKey, 'gov/web.manifest.xml');
    assert.deepEqual(done.data.completedRegions, result.regions);

    const userKeys: Buffer[] = [];
    for (const [bucket, region, ec2, otherEc2, kernel] of [
      [east, 'us-east-1', env.ec2.aws, env.ec2.gov, 'aki-12345678'],
      [gov, 'us-gov-west-1', env.ec2.gov, env.ec2.aws, 'aki-87654321'],
    ] as const) {
      const r = result.regions[region]!;
      assert.equal(r.bucket, bucket);
      assert.equal(r.partKeys!.length, result.parts);
      // exactly the bundle: parts and manifest, no preflight probe, nothing else
      assert.deepEqual(await listKeys(env.clientOf(bucket), bucket), [...r.partKeys!, r.manifestKey!].sort());

      const parsed = await readManifest(bucket, r.manifestKey!);
      const { manifest, xml } = parsed;
      verifyManifestText(xml, manifest.signature, env.user.certificate.publicKey, 'user certificate');
      assert.equal(manifest.image.user, '123456789012');
      assert.equal(manifest.image.parts.length, result.parts);
      assert.equal(manifest.image.digest, result.digest);
      assert.equal(manifest.machineConfiguration?.kernelId, kernel);
      assert.equal(manifest.machineConfiguration?.ramdiskId, region === 'us-east-1' ? 'ari-0000aaaa' : undefined);
      assert.deepEqual(manifest.machineConfiguration?.productCodes, ['ABC123']);
      assert.deepEqual(manifest.machineConfiguration?.blockDeviceMapping?.map((m) => m.virtual), ['ami', 'root']);
      // every part present and matching its SHA-1, signature included
      await verifyBundle({ manifest: parsed, source: sourceFor(bucket, r.manifestKey!), certificate: env.user.certificate });

      const key = unwrapWithKey(manifest.image.userEncryptedKey, env.user.privateKey, 'key');
      const iv = unwrapWithKey(manifest.image.userEncryptedIv, env.user.privateKey, 'IV');
      // EC2's copy opens with THIS partition's (test) EC2 key, to the same AES key and IV, and not with the other's
      assert.deepEqual(unwrapWithKey(manifest.image.ec2EncryptedKey, ec2.privateKey, 'key'), key);
      assert.deepEqual(unwrapWithKey(manifest.image.ec2EncryptedIv, ec2.privateKey, 'IV'), iv);
      assert.throws(() => unwrapWithKey(manifest.image.ec2EncryptedKey, otherEc2.privateKey, 'key'), WrongKeyError);
      userKeys.push(key);
      bundleSecrets.push(key, iv);
    }
    // one bundle, made once: both regions hold the same ciphertext under the same AES key
    assert.deepEqual(userKeys[0], userKeys[1]);

    // and it unbundles (from the GovCloud copy) to the very image
    const out = await tempDir();
    const gr = result.regions['us-gov-west-1']!;
    const unbundled = await unbundle({
      manifest: await readManifest(gov, gr.manifestKey!),
      privateKey: env.user.privateKey,
      source: sourceFor(gov, gr.manifestKey!),
      destination: out,
      certificate: env.user.certificate,
    });
    assert.equal(await sha256File(unbundled.path), env.image.sha256);

    // progress: in order, never backwards, to 100 %, every region published
    const events = await until('the final progress event', () => {
      const list = env.progress.get(job.id!);
      return list?.at(-1)?.stage === 'done' ? list : undefined;
    });
    assertProgressSane(events);
    assert.ok(events.some((p) => p.stage === 'preflight'));
    assert.ok(events.some((p) => p.stage === 'bundling' || p.stage === 'uploading'));
    assert.ok(events.some((p) => p.stage === 'publishing'));
    assert.deepEqual(Object.values(events.at(-1)!.regions).map((r) => r.stage), ['published', 'published']);
    // throttled: about one update per progressIntervalMs (200 ms here) while it ran, plus the forced ones
    // (each stage and region change); bounded by the job's own duration, not by a guess at it
    const ranSeconds = (done.finishedOn! - done.processedOn!) / 1000;
    const bound = Math.ceil(ranSeconds / 0.2) + 20;
    assert.ok(events.length <= bound, `${events.length} progress events in ${ranSeconds} s (at most ${bound}): not throttled`);
  });

  describe('refused at once, without retries, uploading nothing', SLOW_TEST, () => {
    const cases: Array<[string, (east: string, gov: string) => unknown, string]> = [
      ['a spec the schema refuses', (e, g) => ({ ...spec(e, g), level: 42, architecture: 'arm' }), 'BF_BAD_SPEC'],
      ['an unknown identity', (e, g) => spec(e, g, { identity: 'nobody' }), 'BF_KEY_NOT_CONFIGURED'],
      ['a path leaving the root with ..', (e, g) => ({ ...spec(e, g), image: '../outside/secret.img' }), 'BF_BAD_SPEC'],
      // as a missing file (no existence oracle outside the root)
      ['a symlink in the root pointing outside', (e, g) => spec(e, g, { image: 'escape.img' }), 'BF_FILE_UNREADABLE'],
      ['a symlinked directory leading outside', (e, g) => spec(e, g, { image: 'linkdir/secret.img' }), 'BF_FILE_UNREADABLE'],
      ['a missing image', (e, g) => spec(e, g, { image: 'no-such.img' }), 'BF_FILE_UNREADABLE'],
    ];
    for (const [label, make, code] of cases) {
      it(label, SLOW_TEST, async () => {
        const east = await env.bucket('east');
        const gov = await env.bucket('gov', GOV_REGION);
        const done = await finished(await add(make(east, gov), 5));
        assert.equal(await done.getState(), 'failed');
        assert.equal(done.attemptsMade, 1, 'no retry of a permanent failure');
        assert.match(done.failedReason, new RegExp(`^${code}: `));
        // what Bull Board shows of it: the code and message, no stack frames with the worker's paths
        assert.deepEqual((done.stacktrace ?? []).filter((line) => /^\s+at /m.test(line) || line.includes(process.cwd())), [], 'no stack frames in the job');
        assert.deepEqual(await listKeys(env.client, east), []);
        assert.deepEqual(await listKeys(env.clientOf(gov), gov), []);
        assert.equal(done.data.completedRegions, undefined);
      });
    }

    it('does not take a forged "published earlier" from Redis: a region recorded outside the spec is published again', SLOW_TEST, async () => {
      const east = await env.bucket('east');
      const gov = await env.bucket('gov', GOV_REGION);
      const s = spec(east, gov);
      // what someone with write access to Redis (not to the MAC key, which covers the spec only) could add:
      // us-east-1 "done" with another bundle's manifest, us-gov-west-1 "done" in another bucket
      const forged = {
        'us-east-1': { region: 'us-east-1', bucket: east, manifestKey: 'other-team/release.manifest.xml', partKeys: ['other-team/release.part.0'] },
        'us-gov-west-1': { region: 'us-gov-west-1', bucket: 'someone-elses-bucket', manifestKey: 'gov/web.manifest.xml', partKeys: ['gov/web.part.0'] },
      };
      const job = await env.queue.add('web', { spec: s as BundleJobData['spec'], source: 'test', completedRegions: forged }, jobOptions({ attempts: 1, backoffMs: 200 }));
      const done = await finished(job);
      assert.equal(await done.getState(), 'completed', done.failedReason);
      assert.equal(done.returnvalue.regions['us-east-1']!.manifestKey, 'bundles/web/web.manifest.xml', 'us-east-1 published by this job, where its spec says');
      assert.equal(done.returnvalue.regions['us-gov-west-1']!.bucket, gov);
      assert.ok((await listKeys(env.client, east)).includes('bundles/web/web.manifest.xml'));
      assert.ok((await listKeys(env.clientOf(gov), gov)).includes('gov/web.manifest.xml'));
      const { manifest } = await readManifest(east, 'bundles/web/web.manifest.xml');
      bundleSecrets.push(unwrapWithKey(manifest.image.userEncryptedKey, env.user.privateKey, 'key'));
    });

    it('does not take a forged "replaced" record from Redis: a job that did not ask to replace deletes no one else\'s part', SLOW_TEST, async () => {
      const east = await env.bucket('east');
      const gov = await env.bucket('gov', GOV_REGION);
      // someone else's object named like a part of this bundle, beyond the parts this job writes
      await env.client.send(new PutObjectCommand({ Bucket: east, Key: 'bundles/web/web.part.7', Body: 'not yours' }));
      const forged = { 'us-east-1': { manifest: `s3://${east}/bundles/web/web.manifest.xml`, parts: [`s3://${east}/bundles/web/web.part.7`], removed: [] } };
      const job = await env.queue.add('web', { spec: spec(east, gov) as BundleJobData['spec'], source: 'test', replaced: forged }, jobOptions({ attempts: 1, backoffMs: 200 }));
      const done = await finished(job);
      assert.equal(await done.getState(), 'completed', done.failedReason);
      assert.ok((await listKeys(env.client, east)).includes('bundles/web/web.part.7'), 'the foreign object is still there');
      const { manifest } = await readManifest(east, 'bundles/web/web.manifest.xml');
      bundleSecrets.push(unwrapWithKey(manifest.image.userEncryptedKey, env.user.privateKey, 'key'));
    });

    it('while a symlink that stays inside the root is followed', SLOW_TEST, async () => {
      const east = await env.bucket('east');
      const gov = await env.bucket('gov', GOV_REGION);
      const done = await finished(await add({ ...spec(east, gov), name: undefined, image: 'inside-link.img', regions: [spec(east, gov).regions[0]] }));
      assert.equal(await done.getState(), 'completed', done.failedReason);
      // named after the link (what the job asked for), not its target
      assert.equal(done.returnvalue.name, 'inside-link.img');
      assert.equal(done.returnvalue.size, 4096);
      const r = done.returnvalue.regions['us-east-1']!;
      const { manifest } = await readManifest(east, r.manifestKey!);
      bundleSecrets.push(unwrapWithKey(manifest.image.userEncryptedKey, env.user.privateKey, 'key'));
    });
  });

  it('publishes the healthy region when the other fails, records it, and a retry redoes only the failed one', SLOW_TEST, async () => {
    const east = await env.bucket('east');
    const gov = `gov-missing-${Date.now().toString(36)}`;
    const job = await add(spec(east, gov));
    const failed = await finished(job);
    assert.equal(await failed.getState(), 'failed');
    assert.equal(failed.attemptsMade, 1, 'a missing bucket is permanent: no automatic retry');
    assert.match(failed.failedReason, /^BF_REGIONS_FAILED: 1 region failed: us-gov-west-1: BF_S3_BUCKET_NOT_FOUND: .*\(published: us-east-1\)$/);
    const recorded = failed.data.completedRegions!;
    assert.deepEqual(Object.keys(recorded), ['us-east-1']);
    assert.equal(recorded['us-east-1']!.manifestKey, 'bundles/web/web.manifest.xml');
    const eastKeys = await listKeys(env.client, east);
    assert.deepEqual(eastKeys, [...recorded['us-east-1']!.partKeys!, recorded['us-east-1']!.manifestKey].sort());
    const eastManifest = await getObject(env.client, east, recorded['us-east-1']!.manifestKey);
    const eastHeads = await Promise.all(eastKeys.map((k) => headObject(env.client, east, k)));
    const lastProgress = env.progress.get(job.id!)!.at(-1)!;
    assert.equal(lastProgress.regions['us-gov-west-1']!.stage, 'failed');
    assert.equal(lastProgress.regions['us-east-1']!.stage, 'published');

    // the operator creates the bucket and retries the job
    await env.s3.createBucket(gov, { region: GOV_REGION });
    await failed.retry('failed');
    const done = await finished(job);
    assert.equal(await done.getState(), 'completed', done.failedReason);
    const result = done.returnvalue;
    assert.deepEqual(Object.keys(result.regions), ['us-east-1', 'us-gov-west-1']);
    assert.deepEqual(result.regions['us-east-1'], recorded['us-east-1'], 'the earlier region is reported as it was');
    // us-east-1 untouched: same objects, same manifest bytes (a new bundle would have a new AES key)
    assert.deepEqual(await listKeys(env.client, east), eastKeys);
    assert.deepEqual(await getObject(env.client, east, recorded['us-east-1']!.manifestKey), eastManifest);
    assert.deepEqual(await Promise.all(eastKeys.map((k) => headObject(env.client, east, k))), eastHeads);
    // us-gov-west-1 published now, complete and consistent
    const gr = result.regions['us-gov-west-1']!;
    assert.deepEqual(await listKeys(env.clientOf(gov), gov), [...gr.partKeys!, gr.manifestKey!].sort());
    const parsed = await readManifest(gov, gr.manifestKey!);
    await verifyBundle({ manifest: parsed, source: sourceFor(gov, gr.manifestKey!), certificate: env.user.certificate });
    assert.deepEqual(unwrapWithKey(parsed.manifest.image.ec2EncryptedKey, env.ec2.gov.privateKey, 'key'), unwrapWithKey(parsed.manifest.image.userEncryptedKey, env.user.privateKey, 'key'));
    bundleSecrets.push(unwrapWithKey(parsed.manifest.image.userEncryptedKey, env.user.privateKey, 'key'), unwrapWithKey(parsed.manifest.image.userEncryptedIv, env.user.privateKey, 'IV'));
    const { manifest: em } = parseManifest(eastManifest);
    bundleSecrets.push(unwrapWithKey(em.image.userEncryptedKey, env.user.privateKey, 'key'), unwrapWithKey(em.image.userEncryptedIv, env.user.privateKey, 'IV'));
    // the second run said so in its progress
    const retryProgress = env.progress.get(job.id!)!;
    assert.equal(retryProgress.at(-1)!.regions['us-east-1']!.stage, 'skipped');
    assert.equal(retryProgress.at(-1)!.regions['us-gov-west-1']!.stage, 'published');
    // and its percent went on from where the first run had left it, never back (docs/service.md)
    const firstRunPercent = lastProgress.percent;
    assert.ok(firstRunPercent > 50, `the first run got to ${firstRunPercent} %`);
    const percents = retryProgress.map((p) => p.percent);
    for (let i = 1; i < percents.length; i++) assert.ok(percents[i]! >= percents[i - 1]!, `percent went back across attempts: ${percents.join(',')}`);
  });

  it('a cancel on the cancel channel during the upload stops the job and removes everything it uploaded', SLOW_TEST, async () => {
    const east = await env.bucket('east');
    const gov = await env.bucket('gov', GOV_REGION);
    // GovCloud part uploads answer slowly: the job is caught mid-upload
    env.govProxy.addFault({ match: (r) => r.method === 'PUT' && r.path.includes('.part.'), action: { type: 'delay', ms: 1500 } });
    env.govProxy.resetRecords();
    try {
      const job = await add(spec(east, gov));
      await until('a part upload in us-gov-west-1', () => env.govProxy.requests.some((r) => r.method === 'PUT' && r.path.includes('.part.')) || undefined);
      await new Promise((r) => setTimeout(r, 200));
      const publisher = new Redis(env.redis.url);
      try {
        await publisher.publish(cancelChannel(DEFAULT_PREFIX), job.id!);
      } finally {
        publisher.disconnect();
      }
      const done = await finished(job);
      assert.equal(await done.getState(), 'failed');
      assert.match(done.failedReason, /^BF_CANCELLED: /);
      assert.equal(done.attemptsMade, 1, 'a cancelled job is not retried');
      assert.equal(done.data.completedRegions, undefined);
      assert.deepEqual(await listKeys(env.client, east), []);
      assert.deepEqual(await listKeys(env.clientOf(gov), gov), []);
      await worker.waitForLog(new RegExp(`"jobId":"${job.id}".*"msg":"cancel requested`));
    } finally {
      env.resetFaults();
    }
  });

  it('leaves no secret in Redis or in the worker log: AES keys and IVs, the private key, S3 credentials', SLOW_TEST, async () => {
    assert.ok(bundleSecrets.length >= 5, 'the earlier tests recorded the AES keys of their bundles');
    const needles: Record<string, string[]> = {
      'private key PEM': pemForms(env.user.privateKeyPem),
      'S3 secret access key': secretForms(env.credentials.secretAccessKey),
      'S3 access key id': secretForms(env.credentials.accessKeyId),
    };
    bundleSecrets.forEach((s, i) => (needles[`AES key/IV #${i}`] = secretForms(s)));

    const redisDump = await dumpRedis(env.redis.url);
    assert.ok(redisDump.includes('completedRegions') && redisDump.includes('BF_CANCELLED'), 'the dump holds the jobs');
    assert.deepEqual(findSecrets(redisDump, needles), [], 'secrets in Redis');

    const log = worker.output();
    for (const msg of ['job started', 'preflight done', 'bundled', 'region published', 'job completed', 'job failed', 'job cancelled']) {
      assert.ok(log.includes(`"msg":"${msg}`), `the log has "${msg}" lines`);
    }
    assert.deepEqual(findSecrets(log, needles), [], 'secrets in the worker log');
  });
});
