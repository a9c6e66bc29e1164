import assert from 'node:assert/strict';
import { createVerify } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { QueueEvents } from 'bullmq';
import { parseManifest, unwrapWithKey, verifyManifestText } from '@bundlefarm/format';
import { BUNDLE_QUEUE, type BundleJobProgress } from '@bundlefarm/queue';
import { bundlefarm } from '../helpers/cli.js';
import { s3Requests } from '../helpers/fault-proxy.js';
import { GOV_REGION as GOV } from '../helpers/environment-setup.js';
import { tempDir } from '../helpers/temp-dir.js';
import {
  IMAGE_SIZE,
  PREFIX,
  TOKEN,
  getObject,
  listKeys,
  serviceEnvironment,
  sha256File,
  specFor,
  until,
  type ServiceEnvironment,
} from './service-environment.js';

/**
 * The service end to end, everything real: the API (in-process, on a port), two worker processes, Redis,
 * the S3 front. A 60 MiB image is bundled through POST /v1/bundles into us-east-1 and us-gov-west-1; what
 * lands in each bucket is checked as EC2 would (signature, the partition's EC2 key) and unbundled with
 * the real CLI. Then the CLI's enqueue/status, cancelling a running job and retrying a failed one.
 */
const env: ServiceEnvironment = await serviceEnvironment();
const workers = await Promise.all([env.startWorker(), env.startWorker()]);
const events = new QueueEvents(BUNDLE_QUEUE, { connection: { host: '127.0.0.1', port: env.redis.port }, prefix: PREFIX });
await events.waitUntilReady();
// the QueueEvents connection would keep the test process alive; workers stop gracefully if still up
after(async () => {
  await events.close();
  for (const w of workers) await w.stop();
});
const progressEvents = new Map<string, BundleJobProgress[]>();
events.on('progress', ({ jobId, data }) => {
  const list = progressEvents.get(jobId) ?? [];
  list.push(data as unknown as BundleJobProgress);
  progressEvents.set(jobId, list);
});
const cliEnv = { BUNDLEFARM_API_URL: env.url, BUNDLEFARM_API_TOKEN: TOKEN };

/** The manifest's signed text, cut out independently of @bundlefarm/format. */
function signedText(xml: string): string {
  const mc = /<machine_configuration>[\s\S]*<\/machine_configuration>/.exec(xml)?.[0] ?? '';
  const image = /<image>[\s\S]*<\/image>/.exec(xml)?.[0];
  assert.ok(image, 'the manifest has an <image>');
  return mc + image;
}

async function download(region: string, bucket: string, keys: string[], dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const key of keys) await writeFile(join(dir, key.split('/').pop()!), await getObject(env.clientFor(region), bucket, key));
}

function assertMonotonic(label: string, percents: number[]): void {
  assert.ok(percents.length > 0, `${label}: some progress`);
  for (let i = 1; i < percents.length; i++) assert.ok(percents[i]! >= percents[i - 1]!, `${label}: progress went back: ${percents.join(',')}`);
  assert.equal(percents.at(-1), 100, `${label}: reaches 100 %`);
  assert.ok(new Set(percents).size >= 3, `${label}: progress in steps, got ${percents.join(',')}`);
}

describe('bundlefarm service end to end', () => {
  events.on('error', () => {});

  it('bundles 60 MiB through POST /v1/bundles into us-east-1 and us-gov-west-1', async () => {
    const use1 = await env.bucket('amis-use1');
    const gov = await env.bucket('amis-gov', GOV);
    const r = await env.api(
      'POST',
      '/v1/bundles',
      specFor(
        [
          { region: 'us-east-1', bucket: use1, prefix: 'images/os' },
          { region: 'us-gov-west-1', bucket: gov, prefix: 'gov/' },
        ],
        { name: 'os-60m', blockDeviceMapping: [{ virtual: 'ami', device: 'sda1' }, { virtual: 'root', device: '/dev/sda1' }] },
      ),
    );
    assert.equal(r.status, 202, JSON.stringify(r.json));
    const id: string = r.json.id;

    // poll the status (and the liveness probe, which must stay fast while the workers work)
    const polled: number[] = [];
    let slowest = 0;
    const status = await until(
      'the job to finish',
      async () => {
        const t0 = performance.now();
        assert.equal((await fetch(`${env.url}/healthz`)).status, 200);
        slowest = Math.max(slowest, performance.now() - t0);
        const s = await env.api('GET', `/v1/bundles/${id}`);
        assert.equal(s.status, 200);
        if (s.json.progress) polled.push(s.json.progress.percent);
        return s.json.finished ? s.json : undefined;
      },
      120_000,
      100,
    );
    assert.equal(status.state, 'completed', JSON.stringify(status.error));
    assert.equal(status.error, null);
    assertMonotonic('polled', polled);
    assertMonotonic('QueueEvents', (progressEvents.get(id) ?? []).map((p) => p.percent));
    assert.ok(slowest < 2000, `GET /healthz took ${slowest} ms while bundling`);

    const result = status.result;
    assert.equal(result.size, IMAGE_SIZE);
    assert.match(result.digest, /^[0-9a-f]{40}$/);
    assert.ok(result.parts >= 6, `${result.parts} parts`);
    assert.deepEqual(
      status.regions.map((x: { region: string; stage: string }) => [x.region, x.stage]),
      [
        ['us-east-1', 'published'],
        ['us-gov-west-1', 'published'],
      ],
    );

    const unbundled: string[] = [];
    for (const [region, bucket, prefix, ec2] of [
      ['us-east-1', use1, 'images/os/', env.ec2.aws],
      ['us-gov-west-1', gov, 'gov/', env.ec2.gov],
    ] as const) {
      const rs = status.regions.find((x: { region: string }) => x.region === region);
      assert.equal(rs.manifestKey, `${prefix}os-60m.manifest.xml`);
      assert.equal(rs.partKeys.length, result.parts);
      // every part and the manifest landed, and nothing else
      const keys = await listKeys(env.clientFor(region), bucket);
      assert.deepEqual(keys, [...rs.partKeys, rs.manifestKey].sort(), `${region}: objects in the bucket`);

      const dir = await tempDir(`bundlefarm-e2e-${region}-`);
      await download(region, bucket, keys, dir);
      const xml = (await getObject(env.clientFor(region), bucket, rs.manifestKey)).toString('utf8');
      const { manifest } = parseManifest(xml);
      assert.equal(manifest.image.digest, result.digest);
      assert.equal(manifest.image.user, '123456789012');
      assert.equal(manifest.image.parts.length, result.parts);
      // the signature verifies with the user's certificate (our parser, and an independent check)
      verifyManifestText(xml, manifest.signature, env.user.certificate.publicKey, 'user cert');
      const verifier = createVerify('RSA-SHA1');
      verifier.update(signedText(xml), 'utf8');
      assert.ok(verifier.verify(env.user.certificatePem, Buffer.from(manifest.signature!, 'hex')), `${region}: signature`);
      // EC2's copy of the AES key and IV opens with this partition's (test) EC2 key, to the user's
      const userKey = unwrapWithKey(manifest.image.userEncryptedKey, env.user.privateKey, 'key');
      const userIv = unwrapWithKey(manifest.image.userEncryptedIv, env.user.privateKey, 'IV');
      assert.deepEqual(unwrapWithKey(manifest.image.ec2EncryptedKey, ec2.privateKey, 'key'), userKey, `${region}: EC2 key`);
      assert.deepEqual(unwrapWithKey(manifest.image.ec2EncryptedIv, ec2.privateKey, 'IV'), userIv, `${region}: EC2 IV`);
      const otherPartition = ec2 === env.ec2.aws ? env.ec2.gov : env.ec2.aws;
      assert.throws(() => unwrapWithKey(manifest.image.ec2EncryptedKey, otherPartition.privateKey, 'key'), /BF_WRONG_KEY|cannot decrypt/);

      const verify = await bundlefarm(['verify', '-m', join(dir, 'os-60m.manifest.xml'), '-c', env.userCert]);
      assert.equal(verify.code, 0, verify.stderr);
      const out = join(dir, 'out');
      const un = await bundlefarm(['unbundle', '-m', join(dir, 'os-60m.manifest.xml'), '-k', env.userKey, '-c', env.userCert, '-d', out]);
      assert.equal(un.code, 0, un.stderr);
      const files = await readdir(out);
      assert.deepEqual(files, ['os-60m']);
      assert.equal(await sha256File(join(out, 'os-60m')), env.image.sha256, `${region}: the image comes back`);
      unbundled.push(region);
    }
    assert.deepEqual(unbundled, ['us-east-1', 'us-gov-west-1']);

    // the API saw the completion (QueueEvents) and counts it
    const metrics = await until('metrics of the completed job', async () => {
      const text = await (await fetch(`${env.url}/metrics`)).text();
      return /^bundlefarm_jobs_completed_total [1-9]/m.test(text) ? text : undefined;
    });
    assert.match(metrics, new RegExp(`^bundlefarm_image_bytes_total ${IMAGE_SIZE}$`, 'm'));
    assert.match(metrics, new RegExp(`^bundlefarm_uploaded_bytes_total ${result.bundledSize * 2}$`, 'm'));
    assert.match(metrics, /^bundlefarm_job_duration_seconds_count 1$/m);
    assert.match(metrics, /^bundlefarm_jobs\{state="completed"\} 1$/m);
  });

  it('CLI: enqueue --wait and status --follow exit 0 for a bundle that succeeds', async () => {
    const bucket = await env.bucket('cli-ok');
    const r = await bundlefarm(
      ['enqueue', '-i', env.image.path, '-u', '1234-5678-9012', '-r', 'x86_64', '--identity', 'release', '--target', `us-east-1:${bucket}/cli@aki-12345678`, '-p', 'cli-os', '--wait', '--interval', '200'],
      { env: cliEnv },
    );
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const [id, ...summary] = r.stdout.trim().split('\n');
    assert.match(id!, /^[0-9a-f-]{36}$/);
    assert.match(summary.join('\n'), new RegExp(`^us-east-1: s3://${bucket}/cli/cli-os\\.manifest\\.xml published$`, 'm'));
    const keys = await listKeys(env.client, bucket);
    assert.ok(keys.includes('cli/cli-os.manifest.xml'));
    const xml = (await getObject(env.client, bucket, 'cli/cli-os.manifest.xml')).toString('utf8');
    assert.equal(parseManifest(xml).manifest.machineConfiguration?.kernelId, 'aki-12345678');
    const job = await env.queue.getJob(id!);
    assert.equal(job?.data.source, 'cli');

    const s = await bundlefarm(['status', id!, '--follow', '--api', env.url, '--token', TOKEN]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /completed/);
    const json = await bundlefarm(['status', id!, '--json'], { env: cliEnv });
    assert.equal(json.code, 0);
    assert.equal(JSON.parse(json.stdout).state, 'completed');
  });

  it('CLI: enqueue --wait and status --follow exit 1 naming the code when the bundle fails', async () => {
    const bucket = await env.bucket('cli-fail');
    const r = await bundlefarm(
      ['enqueue', '-i', env.image.path, '-u', '123456789012', '-r', 'x86_64', '--identity', 'nobody', '--target', `us-east-1:${bucket}`, '--wait', '--interval', '200'],
      { env: cliEnv },
    );
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const id = r.stdout.trim().split('\n')[0]!;
    assert.match(r.stderr, new RegExp(`^bundlefarm: BF_KEY_NOT_CONFIGURED: bundle job ${id} failed: `, 'm'));
    const s = await bundlefarm(['status', '--follow', id], { env: cliEnv });
    assert.equal(s.code, 1);
    assert.match(s.stderr, /^bundlefarm: BF_KEY_NOT_CONFIGURED: /m);
    assert.match(s.stdout, /failed/);
    assert.deepEqual(await listKeys(env.client, bucket), []);

    // the API refuses before anything is queued: every problem named, exit 1
    const bad = await bundlefarm(['enqueue', '-i', '../x.img', '-u', '123456789012', '-r', 'x86_64', '--identity', 'release', '--target', 'mars-1:Bad_Bucket'], {
      env: cliEnv,
    });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^bundlefarm: BF_BAD_SPEC: the job spec has 3 problems: image: [^;]*; regions\.0\.region: [^;]*; regions\.0\.bucket: .*\n$/);
    for (const field of ['image', 'regions.0.region', 'regions.0.bucket']) assert.equal(bad.stderr.split(`${field}: `).length, 2, `${field} named once: ${bad.stderr}`);
    const unauthorized = await bundlefarm(['enqueue', '-i', 'x.img', '-u', '123456789012', '-r', 'x86_64', '--identity', 'release', '--target', `us-east-1:${bucket}`], {
      env: { ...cliEnv, BUNDLEFARM_API_TOKEN: 'wrong-token-wrong-token' },
    });
    assert.equal(unauthorized.code, 1);
    assert.match(unauthorized.stderr, /^bundlefarm: BF_UNAUTHORIZED: /);
    const usage = await bundlefarm(['enqueue', '-i', 'x.img', '-u', '123456789012', '-r', 'x86_64', '--identity', 'release', '--target', 'us-east-1'], { env: cliEnv });
    assert.equal(usage.code, 1);
    assert.match(usage.stderr, /^bundlefarm: BF_BAD_OPTION: --target: /);
  });

  it('cancels a running job: the worker stops and removes what it uploaded', async () => {
    const use1 = await env.bucket('cancel-use1');
    const gov = await env.bucket('cancel-gov', GOV);
    // slow the gov uploads down so the job is still running when the cancel comes
    env.govProxy.addFault({ match: (q) => s3Requests.putObject(q) && s3Requests.inBucket(gov)(q), action: { type: 'delay', ms: 1500 } });
    try {
      const r = await env.api(
        'POST',
        '/v1/bundles',
        specFor([
          { region: 'us-east-1', bucket: use1 },
          { region: 'us-gov-west-1', bucket: gov },
        ]),
      );
      assert.equal(r.status, 202);
      const id: string = r.json.id;
      // parts (not the preflight probe) are going up: the job is bundling
      await until('parts being uploaded', async () => (await listKeys(env.client, use1)).some((k) => k.includes('.part.')) || undefined, 60_000);
      const c = await env.api('DELETE', `/v1/bundles/${id}`);
      assert.equal(c.status, 202, JSON.stringify(c.json));
      assert.deepEqual(c.json, { id, outcome: 'cancelling', previousState: 'active' });
      const s = await until('the job to stop', async () => {
        const x = await env.api('GET', `/v1/bundles/${id}`);
        return x.json.finished ? x.json : undefined;
      });
      assert.equal(s.state, 'cancelled', 'a cancel is not a failure');
      assert.equal(s.error.code, 'BF_CANCELLED');
      let left: string[] = [];
      try {
        await until(
          'uploads to be removed',
          async () => {
            left = [...(await listKeys(env.client, use1)).map((k) => `${use1}/${k}`), ...(await listKeys(env.clientFor(GOV), gov)).map((k) => `${gov}/${k}`)];
            return left.length === 0 || undefined;
          },
          30_000,
        );
      } catch (err) {
        const requests = env.govProxy.requests.filter((q) => s3Requests.inBucket(gov)(q)).map((q) => `${q.method} ${q.path} ${q.outcome} ${q.status}`);
        const log = workers.flatMap((w) => w.output().split('\n')).filter((l) => l.includes(id)).join('\n');
        throw new Error(`left behind: ${left.join(', ')}\ngov requests:\n${requests.join('\n')}\nworker log:\n${log}`, { cause: err });
      }
      const again = await env.api('DELETE', `/v1/bundles/${id}`);
      assert.equal(again.status, 409);
    } finally {
      env.govProxy.clearFaults();
    }
  });

  it('CLI: list, cancel, retry and logs a job against the real service', { timeout: 240_000 }, async () => {
    const use1 = await env.bucket('cli-jobs-use1');
    const gov = await env.bucket('cli-jobs-gov', GOV);
    // GovCloud uploads held 15 s each: the job is surely still uploading when `list` and `cancel` (two CLI processes, slow
    // on a loaded machine) reach it; with 1.5 s or 5 s it was sometimes publishing already, past the point a cancel stops it
    env.govProxy.addFault({ match: (q) => s3Requests.putObject(q) && s3Requests.inBucket(gov)(q), action: { type: 'delay', ms: 15_000 } });
    let id: string;
    try {
      const r = await bundlefarm(['enqueue', '-i', 'os-60m.img', '-u', '123456789012', '-r', 'x86_64', '--identity', 'release', '--target', `us-east-1:${use1}`, '--target', `${GOV}:${gov}`, '-p', 'cli-jobs'], {
        env: cliEnv,
      });
      assert.equal(r.code, 0, r.stderr);
      id = r.stdout.trim();
      await until('parts being uploaded', async () => (await listKeys(env.client, use1)).some((k) => k.includes('.part.')) || undefined, 60_000);
      const active = await bundlefarm(['list', '--state', 'active'], { env: cliEnv });
      assert.equal(active.code, 0, active.stderr);
      assert.match(active.stdout, new RegExp(`^${id}  active .*  cli-jobs  us-east-1,us-gov-west-1  `, 'm'));

      const cancel = await bundlefarm(['cancel', id, '--wait', '-q'], { env: cliEnv });
      assert.equal(cancel.code, 0, cancel.stderr);
      assert.deepEqual(cancel.stdout.trim().split('\n'), [`${id} cancelling: its worker stops it and removes what it uploaded`, `${id} cancelled`]);
    } finally {
      env.govProxy.clearFaults();
    }
    // cancelled everywhere: the status, the list, the queue counts
    const status = await bundlefarm(['status', id], { env: cliEnv });
    assert.equal(status.code, 1);
    assert.match(status.stdout, new RegExp(`^job: +${id} \\(cli-jobs\\) cancelled$`, 'm'));
    assert.equal(status.stderr, `bundlefarm: BF_CANCELLED: bundle job ${id} was cancelled\n`);
    const cancelled = await bundlefarm(['list', '--state', 'cancelled', '--json'], { env: cliEnv });
    assert.deepEqual(
      JSON.parse(cancelled.stdout).jobs.map((j: { id: string; state: string }) => [j.id, j.state]).filter(([x]: string[]) => x === id),
      [[id, 'cancelled']],
    );
    const failedOnly = await bundlefarm(['list', '--state', 'failed', '--json'], { env: cliEnv });
    assert.ok(!JSON.parse(failedOnly.stdout).jobs.some((j: { id: string }) => j.id === id), 'not listed as failed');
    const q = await env.api('GET', '/v1/queue');
    assert.ok(q.json.counts.cancelled >= 1, JSON.stringify(q.json));
    assert.equal(q.json.counts.cancelled + q.json.counts.failed, (await env.counts()).failed, 'failed and cancelled split what BullMQ holds as failed');

    // retried, and followed through its log
    const retry = await bundlefarm(['retry', id], { env: cliEnv });
    assert.equal(retry.code, 0, retry.stderr);
    assert.equal(retry.stdout, `${id} queued again\n`);
    const logs = await bundlefarm(['logs', id, '--follow', '--interval', '200'], { env: cliEnv });
    assert.equal(logs.code, 0, logs.stderr);
    const lines = logs.stdout.trim().split('\n');
    assert.match(lines[0]!, /^attempt 1 started: us-east-1, us-gov-west-1$/);
    assert.ok(lines.includes('failed: BF_CANCELLED: bundle job was cancelled'), lines.join('\n'));
    assert.ok(lines.includes(`published us-east-1: s3://${use1}/cli-jobs.manifest.xml`), lines.join('\n'));
    assert.ok(lines.includes(`published us-gov-west-1: s3://${gov}/cli-jobs.manifest.xml`), lines.join('\n'));
    const again = await bundlefarm(['logs', id], { env: cliEnv });
    assert.equal(again.stdout, logs.stdout, 'the whole log again, without --follow');

    const twice = await bundlefarm(['retry', id], { env: cliEnv });
    assert.equal(twice.code, 1);
    assert.equal(twice.stderr, `bundlefarm: BF_JOB_STATE_CONFLICT: cannot retry bundle job "${id}": it is completed (only failed or cancelled jobs can be retried)\n`);
    const late = await bundlefarm(['cancel', id], { env: cliEnv });
    assert.equal(late.code, 1);
    assert.match(late.stderr, /^bundlefarm: BF_JOB_STATE_CONFLICT: cannot cancel bundle job ".*": it is completed \(only waiting or running jobs can be cancelled\)\n$/);
    const missing = await bundlefarm(['logs', 'no-such-job'], { env: cliEnv });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^bundlefarm: BF_JOB_NOT_FOUND: /);
  });

  it(
    'cancelling during preflight leaves no probe object behind',
    async () => {
      const use1 = await env.bucket('probe-use1');
      const gov = await env.bucket('probe-gov', GOV);
      // held before it reaches S3: a client that gives up on it and deletes at once would delete first,
      // and the probe would land 1.5 s later and stay
      env.govProxy.addFault({ match: (q) => s3Requests.putObject(q) && s3Requests.inBucket(gov)(q), action: { type: 'hold-request', ms: 1500 } });
      try {
        const r = await env.api('POST', '/v1/bundles', specFor([{ region: 'us-east-1', bucket: use1 }, { region: 'us-gov-west-1', bucket: gov }]));
        const id: string = r.json.id;
        await until('the probe upload', () => env.govProxy.requests.some((q) => q.method === 'PUT' && q.path.startsWith(`/${gov}/.bundlefarm-preflight-`)) || undefined);
        assert.equal((await env.api('DELETE', `/v1/bundles/${id}`)).status, 202);
        await until('the job to stop', async () => (await env.api('GET', `/v1/bundles/${id}`)).json.finished || undefined);
        const probes = () => env.govProxy.requests.filter((q) => q.path.startsWith(`/${gov}/.bundlefarm-preflight-`));
        await until('the held probe PUT to reach S3', () => probes().find((q) => q.method === 'PUT' && q.status !== undefined));
        assert.deepEqual(await listKeys(env.clientFor(GOV), gov), []);
        assert.deepEqual(
          probes().map((q) => `${q.method} ${q.status}`),
          ['PUT 200', 'DELETE 204'],
          'the probe PUT was let finish, then the probe deleted',
        );
      } finally {
        env.govProxy.clearFaults();
      }
    },
  );

  it('retries a failed job: only the region that failed is bundled again', async () => {
    const use1 = await env.bucket('retry-use1');
    const gov = `retry-gov-${Date.now().toString(36)}`; // does not exist yet
    const r = await env.api(
      'POST',
      '/v1/bundles',
      specFor([
        { region: 'us-east-1', bucket: use1 },
        { region: 'us-gov-west-1', bucket: gov },
      ]),
    );
    const id: string = r.json.id;
    const failed = await until('the job to fail', async () => {
      const x = await env.api('GET', `/v1/bundles/${id}`);
      return x.json.finished ? x.json : undefined;
    });
    assert.equal(failed.state, 'failed');
    assert.equal(failed.error.code, 'BF_REGIONS_FAILED');
    const [east, west] = failed.regions;
    assert.equal(east.stage, 'published');
    assert.equal(east.manifestKey, 'os-60m.img.manifest.xml');
    assert.equal(west.stage, 'failed');
    assert.equal(west.error.code, 'BF_S3_BUCKET_NOT_FOUND');
    // the worker recorded the failed region as data (what status and notices read), not only as text
    const stored = (await env.queue.getJob(id))!.data.failedRegions;
    assert.deepEqual(Object.keys(stored ?? {}), ['us-gov-west-1']);
    assert.equal(stored!['us-gov-west-1']!.code, 'BF_S3_BUCKET_NOT_FOUND');
    assert.equal(stored!['us-gov-west-1']!.retryable, false);
    assert.equal(west.error.message, stored!['us-gov-west-1']!.message);
    const published = await listKeys(env.client, use1);

    await env.s3.createBucket(gov, { region: GOV });
    const retry = await env.api('POST', `/v1/bundles/${id}/retry`);
    assert.equal(retry.status, 202, JSON.stringify(retry.json));
    assert.deepEqual(retry.json.keptRegions, ['us-east-1']);
    const done = await until('the retried job to complete', async () => {
      const x = await env.api('GET', `/v1/bundles/${id}`);
      return x.json.finished ? x.json : undefined;
    });
    assert.equal(done.state, 'completed', JSON.stringify(done.error));
    assert.deepEqual(
      done.regions.map((x: { stage: string }) => x.stage),
      ['published', 'published'],
    );
    assert.deepEqual(await listKeys(env.client, use1), published, 'us-east-1 untouched');
    assert.ok((await listKeys(env.clientFor(GOV), gov)).includes('os-60m.img.manifest.xml'));
    const skippedLog = workers.flatMap((w) => w.output().split('\n')).find((l) => l.includes(`"jobId":"${id}"`) && l.includes('"msg":"job started"') && l.includes('"skipped":["us-east-1"]'));
    assert.ok(skippedLog, 'the retry skipped us-east-1');
    const again = await env.api('POST', `/v1/bundles/${id}/retry`);
    assert.equal(again.status, 409);
  });
});
