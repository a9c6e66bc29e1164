import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { PREFLIGHT_OBJECT_PREFIX } from '@bundlefarm/s3';
import { assertOneLineError, bundlefarm } from '../helpers/cli.js';
import { s3Requests, type FaultAction, type RecordedRequest, type RequestInfo } from '../helpers/fault-proxy.js';
import { tempDir } from '../helpers/temp-dir.js';
import { getObject, listKeys, serviceEnvironment, specFor, until } from '../service/service-environment.js';
import { assertSoleBundle, unbundleWithCli } from './published-bundles.js';

/**
 * S3 faults seen by the service, everything real: the API (jobs get 2 attempts, 200 ms apart), a worker
 * process, Redis, the S3 front. The worker reaches us-gov-west-1 through the environment's fault proxy, which
 * answers 500/503, holds answers back, or drops connections — before the request body is in (nothing
 * stored) or after the write landed (stored, but the worker never hears so). The worker's S3 settings
 * are the environment's: the SDK does not retry (maxAttempts 1), the sink tries each request 3 times
 * with full-jitter backoff of 10–50 ms, so every retry below is the worker's own and shows in the
 * proxy's log.
 *
 * Then what a user sees when a part disappears from the bucket before they unbundle.
 */
const env = await serviceEnvironment();
await env.startWorker();

const SLOW = { timeout: 120_000 };
const GOV = 'us-gov-west-1';
const RETRY_ATTEMPTS = 3;
const proxy = env.govProxy;

/** PUTs of a bundle's objects (parts, manifest) into `bucket` — not the preflight probe, which a job does not retry itself (case b covers it). */
const uploadTo = (bucket: string) => (r: RequestInfo): boolean =>
  s3Requests.putObject(r) && s3Requests.inBucket(bucket)(r) && !r.path.includes(PREFLIGHT_OBJECT_PREFIX);
const isPart = (r: RequestInfo): boolean => r.path.includes('.part.');
/** The first PUT of its key (the proxy records a request only after picking its fault, so the log holds earlier ones only). */
const firstTry = (r: RequestInfo): boolean => !proxy.requests.some((q) => q.method === 'PUT' && q.path === r.path);

/** The job's status (GET /v1/bundles/:id) once it finished, for a spec posted through the API. */
async function runJob(bucket: string, name: string, region = GOV): Promise<any> {
  const posted = await env.api('POST', '/v1/bundles', specFor([{ region, bucket, prefix: 'os/' }], { name, level: 1 }));
  assert.equal(posted.status, 202, JSON.stringify(posted.json));
  return until(
    `job ${posted.json.id} to finish`,
    async () => {
      const s = await env.api('GET', `/v1/bundles/${posted.json.id}`);
      return s.json.finished ? s.json : undefined;
    },
    100_000,
    100,
  );
}

/** The PUT requests the proxy saw per part key of `bucket`. */
function partPuts(bucket: string): Map<string, RecordedRequest[]> {
  const out = new Map<string, RecordedRequest[]>();
  for (const r of proxy.requests.filter((q) => uploadTo(bucket)(q) && isPart(q))) out.set(r.path, [...(out.get(r.path) ?? []), r]);
  return out;
}

/** What the proxy saw of `bucket`, one request a line, for failure messages. */
function trail(bucket: string): string {
  return proxy.requests
    .filter(s3Requests.inBucket(bucket))
    .map((r) => `${r.method} ${r.path} ${r.outcome} ${r.status ?? '-'}`)
    .join('\n');
}

/** Failed for good after both attempts, with S3's transient error naming where, and nothing left in the bucket. */
async function assertFailedCleanly(status: any, bucket: string): Promise<void> {
  assert.equal(status.state, 'failed');
  assert.equal(status.attempts.max, 2);
  assert.equal(status.attempts.made, 2, 'a transient failure is retried, up to the attempts configured');
  assert.equal(status.error.code, 'BF_S3_UNAVAILABLE', JSON.stringify(status.error));
  assert.ok(status.error.message.includes(`bucket ${bucket} in ${GOV}`), `the message names bucket and region: ${status.error.message}`);
  assert.equal(status.regions[0].stage, 'failed');
  assert.equal(status.regions[0].error.code, 'BF_S3_UNAVAILABLE');
  assert.equal(status.result, null);
  assert.deepEqual(await listKeys(env.clientFor(GOV), bucket), [], `no manifest, no part, no probe left; the proxy saw:\n${trail(bucket)}`);
}

describe('S3 faults under the service (real worker process, Redis, the S3 front behind a fault proxy)', SLOW, () => {
  it('500/503, slow answers and connections dropped on both sides of a share of uploads: retried, and the bundle is intact', SLOW, async () => {
    const bucket = await env.bucket('flaky', GOV);
    const upload = uploadTo(bucket);
    // Faults hit first tries only, so each object fails at most once and the 3 tries always suffice:
    // the job must complete on its first attempt whatever the draw. The first four first tries (parts:
    // the manifest goes up after every part) fail once each way for sure, the fifth is slow; then a
    // share of the other first tries fail, and a share of every upload answers slowly.
    const first = (r: RequestInfo): boolean => upload(r) && firstTry(r);
    const sure: FaultAction[] = [
      { type: 'status', status: 500 },
      { type: 'status', status: 503, code: 'SlowDown' },
      { type: 'drop-request', afterBytes: 256 * 1024 },
      { type: 'lose-response' },
      { type: 'delay', ms: 1_000 },
    ];
    for (const action of sure) proxy.addFault({ match: first, times: 1, action });
    proxy.addFault({ match: first, share: 0.2, action: { type: 'status', status: 503, code: 'SlowDown' } });
    proxy.addFault({ match: first, share: 0.15, action: { type: 'drop-request', afterBytes: 64 * 1024 } });
    proxy.addFault({ match: first, share: 0.15, action: { type: 'lose-response' } });
    proxy.addFault({ match: upload, share: 0.3, action: { type: 'delay', ms: 300 } });
    try {
      const status = await runJob(bucket, 'flaky');
      assert.equal(status.state, 'completed', JSON.stringify(status.error));
      assert.equal(status.attempts.made, 1, 'the upload retries absorbed every fault: the job did not need a second attempt');

      // the proxy's log: each kind of fault happened, and parts were sent again after one
      const outcomes = new Set(proxy.requests.filter(upload).map((r) => r.outcome));
      for (const o of ['status', 'dropped-request', 'lost-response', 'delayed', 'forwarded'] as const) assert.ok(outcomes.has(o), `an upload was ${o}`);
      const retried = [...partPuts(bucket)].filter(([, puts]) => puts.length > 1);
      assert.ok(retried.length >= 4, `the four parts that failed once were sent again (${retried.length})`);
      for (const [path, puts] of retried) {
        assert.ok(puts.length <= RETRY_ATTEMPTS, `${path}: ${puts.length} PUTs`);
        assert.equal(puts.at(-1)!.status, 200, `${path}: its last PUT was answered`);
      }
      // …and the job's result counts them (a part whose PUT was retried counts once)
      const { uploadRetries, parts } = status.result;
      assert.ok(uploadRetries >= retried.length && uploadRetries <= parts, `uploadRetries ${uploadRetries}, parts retried ${retried.length}, parts ${parts}`);

      // exactly the bundle (no probe, nothing twice), signed, and it gives the image back byte for byte
      const region = status.regions[0];
      assert.equal(region.stage, 'published');
      await assertSoleBundle(env.clientFor(GOV), bucket, 'os/', 'flaky', env.user.certificate);
      assert.equal(await unbundleWithCli(env.clientFor(GOV), bucket, region.manifestKey, { key: env.userKey, cert: env.userCert }), env.image.sha256);
    } finally {
      env.resetFaults();
    }
  });

  it('S3 down (the first write stored but never answered, every PUT after it 503 SlowDown): BF_S3_UNAVAILABLE after the attempts, nothing left', SLOW, async () => {
    const bucket = await env.bucket('down', GOV);
    const put = (r: RequestInfo): boolean => s3Requests.putObject(r) && s3Requests.inBucket(bucket)(r);
    proxy.resetRecords();
    proxy.addFault({ match: put, times: 1, action: { type: 'lose-response' } });
    proxy.addFault({ match: put, action: { type: 'status', status: 503, code: 'SlowDown' } });
    try {
      const status = await runJob(bucket, 'down');
      await assertFailedCleanly(status, bucket);
      assert.match(status.error.message, /SlowDown \(HTTP 503\)/);
      // the write that landed unanswered was the first attempt's preflight probe: it was deleted all the same
      const lost = proxy.requests.find((r) => r.outcome === 'lost-response');
      assert.ok(lost?.path.includes(PREFLIGHT_OBJECT_PREFIX), lost?.path);
      assert.ok(proxy.requests.some((r) => r.method === 'DELETE' && r.path === lost!.path), 'the stored probe was deleted');
    } finally {
      env.resetFaults();
    }
  });

  it('S3 going down mid-upload (connections dropped before or after the write lands): what landed is deleted, no manifest or part is left', SLOW, async () => {
    const bucket = await env.bucket('outage', GOV);
    const upload = uploadTo(bucket);
    proxy.resetRecords();
    // the first part goes up; every upload after it loses its connection — once each way for sure,
    // then either way at random
    proxy.addFault({ match: (r) => upload(r) && isPart(r), times: 1, action: { type: 'forward' } });
    proxy.addFault({ match: upload, times: 1, action: { type: 'lose-response' } });
    proxy.addFault({ match: upload, times: 1, action: { type: 'drop-request', afterBytes: 64 * 1024 } });
    proxy.addFault({ match: upload, share: 0.5, action: { type: 'drop-request', afterBytes: 64 * 1024 } });
    proxy.addFault({ match: upload, action: { type: 'lose-response' } });
    try {
      const status = await runJob(bucket, 'outage');
      await assertFailedCleanly(status, bucket);
      // a part was tried as often as the retry policy allows before the region was given up
      const tries = [...partPuts(bucket).values()].map((puts) => puts.length);
      assert.ok(Math.max(...tries) >= RETRY_ATTEMPTS, `PUTs per part: ${tries.join(', ')}`);
      // every write that reached S3 (answered or not) was followed by a DELETE of its key
      const log = proxy.requests;
      const landed = log.flatMap((r, at) => (upload(r) && (r.outcome === 'forwarded' || r.outcome === 'lost-response') ? [{ r, at }] : []));
      assert.ok(landed.some(({ r }) => r.outcome === 'lost-response'), 'a write landed unanswered');
      for (const { r, at } of landed) {
        assert.ok(log.slice(at + 1).some((d) => d.method === 'DELETE' && d.path === r.path), `${r.path} (${r.outcome}) was deleted after; the proxy saw:\n${trail(bucket)}`);
      }
    } finally {
      env.resetFaults();
    }
  });

  it('a part deleted from the bucket after publishing: unbundle of the downloaded bundle names it (BF_PART_MISSING) and writes nothing', SLOW, async () => {
    const bucket = await env.bucket('lost-part');
    const status = await runJob(bucket, 'lost', 'us-east-1');
    assert.equal(status.state, 'completed', JSON.stringify(status.error));
    const { manifestKey, partKeys } = status.regions[0];
    assert.ok(partKeys.length >= 3, `${partKeys.length} parts`);
    const victim: string = partKeys[1];
    await env.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: victim }));

    // what `ec2-download-bundle` would fetch now: the manifest and the parts still there
    const dir = await tempDir('bundlefarm-lost-part-');
    for (const key of await listKeys(env.client, bucket)) await writeFile(join(dir, key.slice('os/'.length)), await getObject(env.client, bucket, key));
    const out = join(dir, 'image');
    const r = await bundlefarm(['unbundle', '-m', join(dir, manifestKey.slice('os/'.length)), '-k', env.userKey, '-c', env.userCert, '-d', out]);
    assertOneLineError(r, 'BF_PART_MISSING', new RegExp(`part 1 \\(${victim.slice('os/'.length).replace(/\./g, '\\.')}\\) is missing`));
    // part 0 was decrypted and written before part 1 turned out missing: its partial image is gone
    assert.equal(existsSync(out), false, 'no image, no temporary file, and the -d directory it made is removed');
  });
});
