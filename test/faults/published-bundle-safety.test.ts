import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Job } from 'bullmq';
import { jobOptions, type BundleJobData, type BundleJobResult } from '@bundlefarm/queue';
import { PREFLIGHT_OBJECT_PREFIX } from '@bundlefarm/s3';
import { bundlefarm } from '../helpers/cli.js';
import { s3Requests, type RecordedRequest, type RequestInfo } from '../helpers/fault-proxy.js';
import { writeRandomFile } from '../helpers/images.js';
import { getObject, listKeys, serviceEnvironment, specFor, TOKEN, until } from '../service/service-environment.js';
import { assertSoleBundle, verifyPublished, watchManifests } from './published-bundles.js';

/**
 * A published bundle is never removed or overwritten by a job that did not ask for it — everything
 * real: the API (with S3 settings of its own, so it can look at targets), a worker process, Redis, and
 * s3rver behind a recording proxy through which the worker reaches us-east-1, so the tests can say
 * which requests reached which keys: "untouched" means not a single PUT or DELETE on the bundle's keys,
 * not merely the same objects at the end.
 *
 * Each test publishes `os/v1/os-v1` (3 parts) into a fresh bucket first, then sends a later job to the
 * same place: one whose image is missing, one without `replace` (409 at the API, BF_BUNDLE_EXISTS for a
 * job put straight into the queue), one cancelled before its first part, one cancelled mid-upload (it
 * asked to replace, and says exactly what it removed), one that replaces it. Then leftover cleanup
 * and objects it does not own.
 */
const env = await serviceEnvironment({ proxyEast: true, worker: { concurrency: 1 } });
const worker = await env.startWorker();
const proxy = env.eastProxy;

const SLOW = { timeout: 180_000 };
const NAME = 'os-v1';
const PREFIX = 'os/v1/';
const MANIFEST_KEY = `${PREFIX}${NAME}.manifest.xml`;
const cliEnv = { BUNDLEFARM_API_URL: env.url, BUNDLEFARM_API_TOKEN: TOKEN };

// 25 MiB: 3 parts; 12 MiB: 2 parts (a replacement with fewer parts than the bundle it replaces)
await writeRandomFile(join(env.imageRoot, 'v1.img'), 25 * 1024 * 1024, 21);
await writeRandomFile(join(env.imageRoot, 'v2.img'), 12 * 1024 * 1024, 22);

type BundleJob = Job<BundleJobData, BundleJobResult>;

function spec(bucket: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return specFor([{ region: 'us-east-1', bucket, prefix: PREFIX }], { name: NAME, image: 'v1.img', level: 1, ...extra });
}

async function finishedStatus(id: string): Promise<any> {
  return until(`job ${id} to finish`, async () => {
    const s = await env.api('GET', `/v1/bundles/${id}`);
    return s.json.finished ? s.json : undefined;
  }, 120_000, 100);
}

/** Posts a spec to the API (202 expected) and waits for the job to finish. */
async function viaApi(s: Record<string, unknown>): Promise<any> {
  const posted = await env.api('POST', '/v1/bundles', s);
  assert.equal(posted.status, 202, JSON.stringify(posted.json));
  return finishedStatus(posted.json.id);
}

/** Puts a job straight into the queue, as anything with access to Redis can (the API never sees it), and waits for it to finish. */
async function injected(s: Record<string, unknown>): Promise<BundleJob> {
  const job = await env.queue.add(NAME, { spec: s as unknown as BundleJobData['spec'], source: 'test' }, jobOptions({ attempts: 3, backoffMs: 200 }));
  return until(`job ${job.id} to finish`, async () => {
    const fresh = await Job.fromId<BundleJobData, BundleJobResult>(env.queue, job.id!);
    return fresh?.finishedOn ? fresh : undefined;
  }, 120_000, 100);
}

/** Every key under the prefix with its ETag, and the manifest's bytes. */
async function snapshot(bucket: string): Promise<{ etags: Record<string, string>; manifest: Buffer }> {
  const etags: Record<string, string> = {};
  for (const key of await listKeys(env.client, bucket, PREFIX)) {
    etags[key] = (await env.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag ?? '';
  }
  return { etags, manifest: await getObject(env.client, bucket, MANIFEST_KEY) };
}

/** Publishes the original bundle (3 parts) into a fresh bucket; resolves with the bucket, its keys and the job's status. */
async function published(label: string): Promise<{ bucket: string; before: Awaited<ReturnType<typeof snapshot>>; status: any }> {
  const bucket = await env.bucket(label);
  const status = await viaApi(spec(bucket));
  assert.equal(status.state, 'completed', JSON.stringify(status.error));
  assert.equal(status.result.parts, 3);
  const before = await snapshot(bucket);
  proxy.resetRecords();
  return { bucket, before, status };
}

const bundleKey = (bucket: string) => (r: RequestInfo): boolean => r.path.startsWith(`/${bucket}/${PREFIX}${NAME}.`);
const writes = (r: RequestInfo): boolean => r.method === 'PUT' || r.method === 'DELETE';

/** PUTs and DELETEs the worker sent on the bundle's keys (manifest, parts) in `bucket`. */
function writesToBundle(bucket: string): RecordedRequest[] {
  return proxy.requests.filter((r) => writes(r) && bundleKey(bucket)(r));
}

function trail(bucket: string): string {
  return proxy.requests.filter(s3Requests.inBucket(bucket)).map((r) => `${r.method} ${r.path} ${r.outcome} ${r.status ?? '-'}`).join('\n');
}

/** Nothing under the prefix changed, and no PUT or DELETE reached the bundle's keys at any moment. */
async function assertUntouched(bucket: string, before: Awaited<ReturnType<typeof snapshot>>): Promise<void> {
  assert.deepEqual(writesToBundle(bucket), [], `no PUT or DELETE on the published bundle's keys; the proxy saw:\n${trail(bucket)}`);
  assert.deepEqual(await snapshot(bucket), before, 'the published bundle is as it was');
  await verifyPublished(env.client, bucket, MANIFEST_KEY, env.user.certificate);
}

describe('a published bundle survives later jobs to the same place that did not ask to replace it', SLOW, () => {
  it('a job whose image is missing (local or s3://) fails on the image and touches nothing, with or without replace', SLOW, async () => {
    const { bucket, before } = await published('survive-missing');
    for (const image of ['no-such.img', `s3://${bucket}/images/no-such.img`]) {
      for (const replace of [false, true]) {
        const done = await injected(spec(bucket, { image, ...(replace ? { replace } : {}) }));
        assert.equal(await done.getState(), 'failed');
        const code = image.startsWith('s3://') ? 'BF_S3_OBJECT_NOT_FOUND' : 'BF_FILE_UNREADABLE';
        // (main: BF_BAD_SPEC for `replace`, an unknown field there; what matters is that nothing was touched)
        if (replace === false) assert.match(done.failedReason, new RegExp(`^${code}: `), `${image}: ${done.failedReason}`);
        assert.equal(done.attemptsMade, 1, 'a missing image is permanent: no retry');
        await assertUntouched(bucket, before);
      }
    }
    // not even a preflight probe: the image is looked at before any target
    assert.deepEqual(proxy.requests.filter((r) => writes(r) && s3Requests.inBucket(bucket)(r)), [], trail(bucket));
  });

  it('without replace: 409 at the API, which looks with its own S3 settings; nothing queued, nothing touched', SLOW, async () => {
    const { bucket, before } = await published('survive-409');
    const jobs = await env.jobCount();
    const r = await env.api('POST', '/v1/bundles', spec(bucket, { image: 'v2.img' }));
    assert.equal(r.status, 409, JSON.stringify(r.json));
    assert.equal(r.json.error, 'BF_BUNDLE_EXISTS');
    assert.match(r.json.message, new RegExp(`s3://${bucket}/${MANIFEST_KEY.replace(/\./g, '\\.')}`), 'names the object');
    assert.equal(await env.jobCount(), jobs, 'no job was queued');
    // the CLI says the same, in one line, exit 1
    const cli = await bundlefarm(['enqueue', '-i', 'v2.img', '-u', '123456789012', '-r', 'x86_64', '--identity', 'release', '--target', `us-east-1:${bucket}/${PREFIX}`, '-p', NAME], { env: cliEnv });
    assert.equal(cli.code, 1, cli.stdout);
    assert.match(cli.stderr, new RegExp(`^bundlefarm: BF_BUNDLE_EXISTS: .*s3://${bucket}/os/v1/os-v1\\.manifest\\.xml`));
    await assertUntouched(bucket, before);
  });

  it('without replace, put straight into the queue: the worker fails it with BF_BUNDLE_EXISTS before writing anything', SLOW, async () => {
    const { bucket, before } = await published('survive-injected');
    const done = await injected(spec(bucket, { image: 'v2.img' }));
    assert.equal(await done.getState(), 'failed', 'main published over it');
    assert.match(done.failedReason, new RegExp(`^BF_BUNDLE_EXISTS: .*s3://${bucket}/os/v1/os-v1\\.manifest\\.xml`));
    assert.equal(done.attemptsMade, 1, 'permanent: not retried');
    await assertUntouched(bucket, before);
    // not even the preflight probe: the look at the target comes first
    assert.deepEqual(proxy.requests.filter((r) => writes(r) && s3Requests.inBucket(bucket)(r)), [], trail(bucket));
  });

  it('a job that asked to replace it but is cancelled before its first part leaves it untouched', SLOW, async () => {
    const { bucket, before } = await published('survive-cancel');
    // the sink's last look at the manifest, just before the first part (after preflight's probe), is held
    const afterProbe = (): boolean => proxy.requests.some((q) => q.method === 'PUT' && q.path.includes(PREFLIGHT_OBJECT_PREFIX) && s3Requests.inBucket(bucket)(q));
    const lastLook = (r: RequestInfo): boolean => r.method === 'HEAD' && r.path === `/${bucket}/${MANIFEST_KEY}` && afterProbe();
    proxy.addFault({ match: lastLook, action: { type: 'delay', ms: 20_000 } });
    try {
      const posted = await env.api('POST', '/v1/bundles', spec(bucket, { image: 'os-60m.img', replace: true }));
      assert.equal(posted.status, 202, JSON.stringify(posted.json));
      await until('the look just before the first part', () => proxy.requests.some(lastLook) || undefined, 60_000);
      const c = await env.api('DELETE', `/v1/bundles/${posted.json.id}`);
      assert.equal(c.json.outcome, 'cancelling');
      const s = await finishedStatus(posted.json.id);
      assert.equal(s.state, 'failed');
      assert.equal(s.error.code, 'BF_CANCELLED');
      assert.doesNotMatch(s.error.message, /removed/);
      assert.equal(s.regions[0].replaced, undefined);
      await assertUntouched(bucket, before);
    } finally {
      env.resetFaults();
    }
  });
});

describe('replace: true', SLOW, () => {
  it('cancelled mid-upload: the old manifest was withdrawn only then, and the job says exactly what it removed', SLOW, async () => {
    const { bucket, before, status: original } = await published('replace-cancel');
    const oldParts: string[] = original.regions[0].partKeys;
    proxy.addFault({ match: (r) => r.method === 'PUT' && bundleKey(bucket)(r) && r.path.includes('.part.'), action: { type: 'delay', ms: 1_500 } });
    try {
      const posted = await env.api('POST', '/v1/bundles', spec(bucket, { image: 'os-60m.img', replace: true }));
      assert.equal(posted.status, 202, JSON.stringify(posted.json));
      await until('a part upload', () => proxy.requests.some((r) => r.method === 'PUT' && bundleKey(bucket)(r)) || undefined, 60_000);
      await env.api('DELETE', `/v1/bundles/${posted.json.id}`);
      const s = await finishedStatus(posted.json.id);
      assert.equal(s.state, 'failed');
      assert.equal(s.error.code, 'BF_CANCELLED');

      // the withdrawal came after the image was opened and preflight passed, right before the first part
      const seen = proxy.requests.filter(s3Requests.inBucket(bucket));
      const manifestDelete = seen.findIndex((r) => r.method === 'DELETE' && r.path === `/${bucket}/${MANIFEST_KEY}`);
      const firstPart = seen.findIndex((r) => r.method === 'PUT' && bundleKey(bucket)(r));
      const probe = seen.findIndex((r) => r.method === 'PUT' && r.path.includes(PREFLIGHT_OBJECT_PREFIX));
      assert.ok(probe >= 0 && probe < manifestDelete && manifestDelete < firstPart, `probe, withdrawal, first part in that order:\n${trail(bucket)}`);

      // exactly what is gone: the manifest, and the old parts this job wrote over (and then removed its own);
      // the old parts it did not reach are still there, untouched, and nothing of its own is
      const now = await listKeys(env.client, bucket, PREFIX);
      const intact: string[] = [];
      for (const k of now) if ((await env.client.send(new HeadObjectCommand({ Bucket: bucket, Key: k }))).ETag === before.etags[k]) intact.push(k);
      assert.deepEqual(now, intact, 'nothing but untouched objects of the old bundle is left');
      const gone = Object.keys(before.etags).filter((k) => !intact.includes(k));
      const expected = gone.map((k) => `s3://${bucket}/${k}`).sort();
      const log = worker.output().split('\n').filter((l) => l.includes(posted.json.id)).join('\n');
      const why = `proxy:\n${trail(bucket)}\nworker:\n${log}`;
      assert.ok(gone.includes(MANIFEST_KEY) && gone.length >= 2, `the manifest and at least one part are gone: ${why}`);
      for (const k of gone.filter((x) => x !== MANIFEST_KEY)) {
        assert.ok(seen.some((r) => r.method === 'PUT' && r.path === `/${bucket}/${k}`), `${k} is gone because the job wrote over it: ${why}`);
      }
      assert.deepEqual([...s.regions[0].replaced.removed].sort(), expected, why);
      assert.equal(s.regions[0].replaced.manifest, `s3://${bucket}/${MANIFEST_KEY}`);
      assert.equal(s.regions[0].replaced.owner, `${original.id}@${Date.parse(original.createdAt)}`);
      assert.deepEqual(s.regions[0].replaced.parts, oldParts.map((k) => `s3://${bucket}/${k}`));
      for (const url of expected) assert.ok(s.error.message.includes(url), `the failure names ${url}: ${s.error.message}`);
      assert.match(s.error.message, new RegExp(`this job had removed ${expected.length} objects`));
      const deleted = seen.filter((r) => r.method === 'DELETE' && bundleKey(bucket)(r)).map((r) => r.path.slice(bucket.length + 2));
      for (const k of deleted) assert.ok(k === MANIFEST_KEY || seen.some((r) => r.method === 'PUT' && r.path === `/${bucket}/${k}`), `${k}: deleted only what it wrote, and the manifest`);
    } finally {
      env.resetFaults();
    }
  });

  it('replaces it: exactly the new manifest and parts are left, every object marked as the new job’s, and the result says what went', SLOW, async () => {
    const { bucket, status: original } = await published('replace-ok');
    // --replace through the CLI, as a user would
    const cli = await bundlefarm(
      ['enqueue', '-i', 'v2.img', '-u', '123456789012', '-r', 'x86_64', '--identity', 'release', '--target', `us-east-1:${bucket}/${PREFIX}`, '-p', NAME, '--level', '1', '--replace', '--wait', '--interval', '200'],
      { env: cliEnv },
    );
    assert.equal(cli.code, 0, cli.stderr + cli.stdout);
    const id = cli.stdout.trim().split('\n')[0]!;
    assert.match(cli.stdout, new RegExp(`replaced the bundle published at s3://${bucket}/os/v1/os-v1\\.manifest\\.xml: 4 of its objects removed`));
    const s = await finishedStatus(id);
    assert.equal(s.state, 'completed');
    assert.equal(s.result.parts, 2);
    const manifest = await assertSoleBundle(env.client, bucket, PREFIX, NAME, env.user.certificate);
    assert.equal(manifest.manifest.image.size, 12 * 1024 * 1024);
    // the old bundle: manifest withdrawn, two parts overwritten, the third (the new one has two) deleted
    const oldParts: string[] = original.regions[0].partKeys;
    const replaced = s.result.regions['us-east-1'].replaced;
    assert.deepEqual([...replaced.removed].sort(), [MANIFEST_KEY, ...oldParts].map((k) => `s3://${bucket}/${k}`).sort());
    assert.deepEqual(s.regions[0].replaced, replaced);
    const job = await env.queue.getJob(id);
    const owner = `${id}@${job!.timestamp}`;
    for (const key of await listKeys(env.client, bucket, PREFIX)) {
      const head = await env.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      // x-amz-meta-bundlefarm-job
      assert.equal(head.Metadata?.['bundlefarm-job'], owner, `${key} is marked as the new job's`);
    }
    // the withdrawal was logged as someone else's bundle
    assert.match(worker.output(), new RegExp(`"jobId":"${id}".*"publishedBy":"job ${original.id}@\\d+".*"msg":"withdrew the published manifest before the first part"`));
  });
});

describe('two jobs for the same place at once', SLOW, () => {
  it('the later one waits for the earlier to finish instead of writing beside it: refused after, or replacing with replace', SLOW, async () => {
    const bucket = await env.bucket('concurrent');
    const second = await env.startWorker();
    // the first job's parts answer slowly: it is surely still uploading when the others come
    proxy.addFault({ match: (r) => r.method === 'PUT' && bundleKey(bucket)(r) && r.path.includes('.part.'), action: { type: 'delay', ms: 1_000 }, times: 3 });
    const watch = watchManifests((region) => env.s3.endpointFor(region), [{ bucket, prefix: PREFIX }], env.user.certificate);
    try {
      const add = (s: Record<string, unknown>) => env.queue.add(NAME, { spec: s as unknown as BundleJobData['spec'], source: 'test' }, jobOptions({ attempts: 3, backoffMs: 200 }));
      const first = await add(spec(bucket));
      await until('the first job uploading', () => proxy.requests.some((r) => r.method === 'PUT' && bundleKey(bucket)(r)) || undefined, 60_000);
      // both put straight into the queue while the first is uploading: nothing published yet for anyone to see
      const refused = await add(spec(bucket, { image: 'v2.img' }));
      const waiting = new RegExp(`"jobId":"${refused.id}".*"msg":"waiting: another job is writing to the target"`);
      await until('the second job to wait for the first', () => [worker, second].some((w) => waiting.test(w.output())) || undefined, 60_000);
      const finished = async (job: BundleJob) =>
        until(`job ${job.id} to finish`, async () => {
          const fresh = await Job.fromId<BundleJobData, BundleJobResult>(env.queue, job.id!);
          return fresh?.finishedOn ? fresh : undefined;
        }, 120_000, 100);
      const a = await finished(first);
      assert.equal(await a.getState(), 'completed', a.failedReason);
      const b = await finished(refused);
      assert.equal(await b.getState(), 'failed');
      assert.match(b.failedReason, /^BF_BUNDLE_EXISTS: /, 'once the first had published, the second is refused');
      assert.equal(b.attemptsMade, 1, 'waiting did not count as a failed attempt');
      const published = await assertSoleBundle(env.client, bucket, PREFIX, NAME, env.user.certificate);
      assert.equal(published.manifest.image.size, 25 * 1024 * 1024, 'the first job’s bundle, intact');

      // with replace: it waits as well, then replaces the first one's bundle whole
      const replacing = await add(spec(bucket, { image: 'v2.img', replace: true }));
      const c = await finished(replacing);
      assert.equal(await c.getState(), 'completed', c.failedReason);
      assert.equal((await assertSoleBundle(env.client, bucket, PREFIX, NAME, env.user.certificate)).manifest.image.size, 12 * 1024 * 1024);
      assert.equal(c.returnvalue.regions['us-east-1']!.replaced?.owner, `${a.id}@${a.timestamp}`);
      const seen = await watch.stop();
      assert.deepEqual(seen.violations, [], 'no manifest was ever visible while a part it names was missing or another job’s');
      assert.ok(seen.rounds > 0);
    } finally {
      await watch.stop().catch(() => {});
      env.resetFaults();
      await second.stop('SIGTERM');
    }
  });
});

describe('leftover cleanup', SLOW, () => {
  it('removes only what the job owns: objects named like a part or a probe that another writer put there stay', SLOW, async () => {
    const bucket = await env.bucket('leftovers');
    // before the bundle exists: a human's file named like a part the bundle will not have, and like a probe
    const foreign = [`${PREFIX}${NAME}.part.7`, `${PREFIX}${PREFLIGHT_OBJECT_PREFIX}0011aabbccddeeff`];
    for (const key of foreign) await env.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'not bundlefarm’s' }));
    const status = await viaApi(spec(bucket));
    assert.equal(status.state, 'completed', JSON.stringify(status.error));
    const keys = await listKeys(env.client, bucket, PREFIX);
    assert.deepEqual(keys, [...status.regions[0].partKeys, MANIFEST_KEY, ...foreign].sort(), 'the bundle, and the foreign objects still there');
    for (const key of foreign) assert.equal((await getObject(env.client, bucket, key)).toString(), 'not bundlefarm’s');
    assert.match(worker.output(), new RegExp(`"jobId":"${status.id}".*"msg":"left objects named like leftovers that another writer owns"`));
  });
});
