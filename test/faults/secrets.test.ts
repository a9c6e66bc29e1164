import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { parseManifest, unwrapWithKey } from '@bundlefarm/format';
import { BUNDLE_QUEUE, hashToken } from '@bundlefarm/queue';
import { githubSignature } from '@bundlefarm/server';
import { s3Requests, startFaultProxy, type RequestInfo } from '../helpers/fault-proxy.js';
import { writeRandomFile } from '../helpers/images.js';
import { findSecrets, locateSecrets, pemForms, redisHaystacks, secretForms, type Haystack, type Needles } from '../helpers/secret-scan.js';
import { ACCOUNT, WORKER_BIN, serviceProcesses, spawnService, until, type ServiceProcess } from '../helpers/service-processes.js';
import { getObject, listKeys } from '../service/service-environment.js';

/**
 * Secrets never leave the process that holds them. A full run of the service, every part a real
 * process (redis-server, the API, two workers; the S3 front in this process): a job enqueued through
 * POST /v1/bundles that completes, one enqueued by a signed GitHub webhook that completes, one that
 * FAILS after bundling (its second region's bucket is missing: the first region is published, then
 * the job fails), and one CANCELLED (DELETE /v1/bundles/:id) while its parts are being uploaded.
 *
 * Then everything the service exposes or keeps is searched for every secret involved, in every form
 * (hex, base64, raw bytes, PEM lines): the AES key and IV of every bundle made (unwrapped from the
 * published manifests with the user's private key), that private key, the workers' S3 credentials,
 * the API token (of a principal in the principals file, which holds only its hash), the job MAC key
 * shared by the API and the workers, the GitHub webhook secret (and the signature made with it), and
 * the Bull Board admin password. Places searched: every key and value of Redis; every job's data, return value, progress,
 * failedReason, stacktrace and logs; what the API answered (job status, queue, /metrics, OpenAPI, the
 * webhook's and the cancel's answers); Bull Board (its page and its JSON API: queue listings, each
 * job, each job's logs, Redis stats); and the whole output of the API and worker processes, at trace
 * level. The token and password legitimately travel in request headers; they must appear in no answer
 * and no log — requests with a near-miss token or password (the real one plus a suffix) check that a
 * rejected credential is not echoed either.
 */

/** Images: 3 MiB (one part) for the jobs that complete or fail, 30 MiB (three parts) for the one cancelled. */
const SMALL = 'small.img';
const BIG = 'big.img';
const HOOK_BUCKET = 'hook-amis';
const TAG = 'v1.2.3';
const SHA = 'c0ffee0123456789abcdef0123456789abcdef01';

const JOB_MAC_KEY = `mac-${randomBytes(32).toString('hex')}`;
const env = await serviceProcesses({
  workers: 0, // started below, through the proxy
  jobMacKey: JOB_MAC_KEY,
  // the run's token is a principal that may do all of this (and see and cancel the webhook's job)
  principals: (secrets: { apiToken: string }) => ({
    principals: [
      { name: 'ci', tokenHashes: [hashToken(secrets.apiToken)], identities: ['release'], targets: ['**'], images: ['**'], canCancelOthers: true },
      { name: 'release-hooks', identities: ['release'], targets: [`${HOOK_BUCKET}/**`], images: [SMALL] },
    ],
  }),
  apiEnv: { BUNDLEFARM_LOG_LEVEL: 'trace', BUNDLEFARM_JOB_ATTEMPTS: '2', BUNDLEFARM_JOB_BACKOFF_MS: '100' },
  images: async (root) => {
    await writeRandomFile(join(root, SMALL), 3 * 1024 * 1024, 7);
    await writeRandomFile(join(root, BIG), 30 * 1024 * 1024, 8);
  },
  // a tag pushed to acme/* bundles small.img into HOOK_BUCKET
  webhookRules: {
    rules: [
      {
        name: 'release-tags',
        principal: 'release-hooks',
        provider: 'github',
        events: ['push'],
        when: { repository: 'acme/*', tag: 'v*' },
        spec: {
          name: '{{repository_name}}-{{tag}}',
          image: SMALL,
          architecture: 'x86_64',
          accountId: ACCOUNT,
          identity: 'release',
          regions: [{ region: 'us-east-1', bucket: HOOK_BUCKET, prefix: '{{sha7}}/' }],
        },
      },
    ],
  },
});
await env.s3.createBucket(HOOK_BUCKET);

// The workers reach the S3 front through a fault proxy, so the cancelled job's part uploads can be slowed
// down: the cancel then lands while the job is uploading, with its AES key in use.
const proxy = await startFaultProxy({ target: env.s3.endpoint });
const workerConfig = JSON.parse(await readFile(env.workerEnv.BUNDLEFARM_CONFIG!, 'utf8')) as { s3: Record<string, unknown> };
workerConfig.s3.endpoint = proxy.endpoint;
const workerConfigFile = join(env.dir, 'worker-via-proxy.json');
await writeFile(workerConfigFile, JSON.stringify({ ...workerConfig, progressIntervalMs: 100 }));
const workers: ServiceProcess[] = [];
for (let i = 0; i < 2; i++) {
  const w = spawnService(WORKER_BIN, { ...env.workerEnv, BUNDLEFARM_CONFIG: workerConfigFile, BUNDLEFARM_LOG_LEVEL: 'trace' });
  workers.push(w);
  env.workers.push(w); // stopped by the environment's own hook too, should anything below throw
}
await Promise.all(workers.map((w) => w.waitForLog(/"msg":"worker started"/)));

const queue = new Queue(BUNDLE_QUEUE, { connection: { host: '127.0.0.1', port: env.redis.port }, prefix: env.prefix });

/**
 * The base64 (and base64url) of a secret that sits inside a longer encoded value (an Authorization
 * header's `user:password`, a key next to its IV): for each of the three byte alignments, the characters
 * that depend on the secret's bytes alone. secretForms covers only a secret encoded on its own.
 */
function embeddedBase64(secret: Buffer | string): string[] {
  const bytes = Buffer.from(secret);
  return [0, 1, 2].flatMap((shift) => {
    const padded = Buffer.concat([Buffer.alloc(shift), bytes]);
    const inner = padded.subarray(shift === 0 ? 0 : 3, Math.floor(padded.length / 3) * 3);
    return [inner.toString('base64'), inner.toString('base64url')];
  });
}

/** Every form of a secret searched for. */
const forms = (secret: Buffer | string): string[] => [...new Set([...secretForms(secret), ...embeddedBase64(secret)])];

/** The labels of `findSecrets`/`locateSecrets` hits, each once. */
const labels = (hits: string[]): string[] => [...new Set(hits.map((h) => h.replace(/ \(.*$/s, '')))];

const basicAuth = (password: string): string => `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;

/** What the run made, for the scans. */
const run = {
  buckets: [HOOK_BUCKET] as string[],
  ids: { api: '', hook: '', failed: '', cancelled: '' },
  hookSignature: '',
  /** AES keys and IVs of the published bundles, by label. */
  bundleSecrets: new Map<string, Buffer>(),
  /** Everything the API (and Bull Board) answered, as `status headers body`. */
  answers: [] as Haystack[],
};
const needles: Needles = {};

function secretNeedles(): Needles {
  const s = env.secrets;
  const out: Needles = {
    'user private key PEM': pemForms(env.user.privateKeyPem),
    'S3 secret access key': forms(s.s3.secretAccessKey),
    'S3 access key id': forms(s.s3.accessKeyId),
    'API token': forms(s.apiToken),
    'job MAC key': forms(JOB_MAC_KEY),
    'GitHub webhook secret': forms(s.githubWebhookSecret),
    'admin password': forms(s.adminPassword),
    'webhook signature': [run.hookSignature.replace(/^sha256=/, '')],
  };
  for (const [label, secret] of run.bundleSecrets) out[label] = forms(secret);
  return out;
}

/** Records an answer (status, headers, body) for the scans. */
function answer(where: string, r: { status: number; headers: Headers; text: string }): string {
  run.answers.push({ where, content: `${r.status}\n${[...r.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${r.text}` });
  return r.text;
}

/** A GET with these headers only (no bearer token unless given); the answer is recorded. */
async function call(where: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const res = await fetch(env.api.url + path, { headers });
  const text = await res.text();
  answer(where, { status: res.status, headers: res.headers, text });
  return { status: res.status, text };
}

/** The job's status (GET /v1/bundles/:id) once it has finished. */
async function finished(id: string): Promise<any> {
  return until(`job ${id} to finish`, async () => {
    const s = await env.request('GET', `/v1/bundles/${id}`);
    return s.json?.finished ? s.json : undefined;
  }, 60_000);
}

function spec(name: string, image: string, regions: Array<{ region: string; bucket: string }>): Record<string, unknown> {
  return { name, image, architecture: 'x86_64', accountId: ACCOUNT, identity: 'release', regions: regions.map((r) => ({ ...r, prefix: `${name}/` })), level: 1 };
}

async function enqueue(body: Record<string, unknown>): Promise<string> {
  const r = await env.request('POST', '/v1/bundles', body);
  answer('POST /v1/bundles', r);
  assert.equal(r.status, 202, r.text);
  return r.json.id as string;
}

describe('secrets: none in Redis, job records, API answers, Bull Board or process logs after a full run', { timeout: 120_000 }, () => {
  after(async () => {
    await queue.close();
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await proxy.close();
  });

  it('the scan finds a secret planted in text, in binary and in Redis (the test can fail)', async () => {
    const key = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const planted: Needles = {
      'AES key': forms(key),
      'user private key PEM': pemForms(env.user.privateKeyPem),
      'S3 secret access key': forms(env.secrets.s3.secretAccessKey),
      'admin password': forms(env.secrets.adminPassword),
    };
    const found = (text: string | Buffer): string[] => labels(findSecrets(typeof text === 'string' ? text : text.toString('latin1'), planted));
    assert.deepEqual(found(`{"msg":"x","key":"${key.toString('hex')}"}`), ['AES key'], 'hex');
    assert.deepEqual(found(`{"key":"${key.toString('base64')}"}`), ['AES key'], 'base64');
    assert.deepEqual(found(Buffer.concat([Buffer.from([0, 255, 7]), key, Buffer.from('tail')])), ['AES key'], 'raw bytes');
    assert.deepEqual(found(`error: ${JSON.stringify(env.user.privateKeyPem.split('\n')[5])}`), ['user private key PEM'], 'one PEM line');
    assert.deepEqual(found(Buffer.from(env.secrets.s3.secretAccessKey).toString('base64')), ['S3 secret access key'], 'base64 of a text secret');
    assert.deepEqual(found(basicAuth(`${env.secrets.adminPassword}0`)), ['admin password'], 'inside a longer base64 value');
    assert.deepEqual(found(Buffer.concat([Buffer.from('iv'), key]).toString('base64')), ['AES key'], 'base64 of the key after other bytes');
    assert.deepEqual(found('nothing to see'), []);
    // Redis is read byte for byte: the raw key inside a hash value is found (in database 1, apart from the queue)
    const db1 = `${env.redis.url}/1`;
    const r = new Redis(db1);
    try {
      await r.hset('planted', 'field', Buffer.concat([Buffer.from('x'), key, Buffer.from('y')]));
      assert.deepEqual(labels(locateSecrets(await redisHaystacks(db1), planted)), ['AES key']);
      await r.flushdb();
    } finally {
      r.disconnect();
    }
  });

  it('runs the jobs: two complete (API, GitHub webhook), one fails after bundling, one is cancelled while uploading', async () => {
    const ok = await env.bucket('ok-amis');
    const partial = await env.bucket('partial-amis');
    const cancel = await env.bucket('cancel-amis');
    run.buckets.push(ok, partial, cancel);

    run.ids.api = await enqueue(spec('api-ok', SMALL, [{ region: 'us-east-1', bucket: ok }]));
    // us-east-1 passes preflight and is published; us-west-2's bucket does not exist: the job fails
    run.ids.failed = await enqueue(
      spec('half-failed', SMALL, [
        { region: 'us-east-1', bucket: partial },
        { region: 'us-west-2', bucket: `missing-${randomUUID().slice(0, 8)}` },
      ]),
    );
    const hookBody = JSON.stringify({
      ref: `refs/tags/${TAG}`,
      before: '0'.repeat(40),
      after: SHA,
      deleted: false,
      pusher: { name: 'ci' },
      repository: { full_name: 'acme/os', name: 'os', owner: { login: 'acme' } },
    });
    run.hookSignature = githubSignature(hookBody, env.secrets.githubWebhookSecret);
    const hook = await fetch(`${env.api.url}/v1/hooks/github`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': run.hookSignature },
      body: hookBody,
    });
    const hookText = answer('POST /v1/hooks/github', { status: hook.status, headers: hook.headers, text: await hook.text() });
    assert.equal(hook.status, 202, hookText);
    run.ids.hook = JSON.parse(hookText).id as string;

    const [apiJob, hookJob, failedJob] = await Promise.all([finished(run.ids.api), finished(run.ids.hook), finished(run.ids.failed)]);
    assert.equal(apiJob.state, 'completed', JSON.stringify(apiJob.error));
    assert.equal(hookJob.state, 'completed', JSON.stringify(hookJob.error));
    assert.equal(hookJob.source, 'github');
    assert.equal(failedJob.state, 'failed');
    assert.equal(failedJob.error.code, 'BF_REGIONS_FAILED', JSON.stringify(failedJob.error));

    // the cancelled job: its parts' uploads answer slowly, and the cancel comes once one is under way
    const isPartPut = (q: RequestInfo): boolean => s3Requests.putObject(q) && s3Requests.inBucket(cancel)(q) && q.path.includes('.part.');
    proxy.addFault({ match: isPartPut, action: { type: 'delay', ms: 2_000 } });
    run.ids.cancelled = await enqueue(spec('cancel-me', BIG, [{ region: 'us-east-1', bucket: cancel }]));
    await until('a part of the job to cancel to be uploading', () => proxy.requests.some(isPartPut) || undefined, 30_000, 20);
    const c = await env.request('DELETE', `/v1/bundles/${run.ids.cancelled}`);
    answer('DELETE /v1/bundles/:id', c);
    assert.equal(c.status, 202, c.text);
    assert.deepEqual(c.json, { id: run.ids.cancelled, outcome: 'cancelling', previousState: 'active' });
    const cancelled = await finished(run.ids.cancelled);
    assert.equal(cancelled.state, 'cancelled');
    assert.equal(cancelled.error.code, 'BF_CANCELLED');
  });

  it('unwraps the AES key and IV of each of the 3 bundles published (the cancelled job published none)', async () => {
    for (const bucket of run.buckets) {
      for (const key of (await listKeys(env.client, bucket)).filter((k) => k.endsWith('.manifest.xml'))) {
        const { manifest } = parseManifest(await getObject(env.client, bucket, key));
        run.bundleSecrets.set(`AES key of s3://${bucket}/${key}`, unwrapWithKey(manifest.image.userEncryptedKey, env.user.privateKey, 'key'));
        run.bundleSecrets.set(`AES IV of s3://${bucket}/${key}`, unwrapWithKey(manifest.image.userEncryptedIv, env.user.privateKey, 'IV'));
      }
    }
    assert.equal(run.bundleSecrets.size, 6, [...run.bundleSecrets.keys()].join('\n'));
    const hexes = [...run.bundleSecrets.values()].map((b) => b.toString('hex'));
    assert.equal(new Set(hexes).size, 6, 'every key and IV differs');
    for (const b of run.bundleSecrets.values()) assert.equal(b.length, 16);
    Object.assign(needles, secretNeedles());
  });

  it("no secret in any job's data, return value, progress, failedReason, stacktrace or logs", async () => {
    const jobs = await queue.getJobs(['completed', 'failed', 'active', 'waiting', 'delayed', 'prioritized', 'waiting-children']);
    assert.deepEqual(jobs.map((j) => j.id).sort(), Object.values(run.ids).sort(), 'every job of the run, and only those');
    const places: Haystack[] = [];
    let logLines = 0;
    for (const job of jobs) {
      const { logs } = await queue.getJobLogs(job.id!);
      logLines += logs.length;
      const at = `job ${job.id} (${job.name})`;
      places.push(
        { where: `${at} data`, content: JSON.stringify(job.data) },
        { where: `${at} returnvalue`, content: JSON.stringify(job.returnvalue) },
        { where: `${at} progress`, content: JSON.stringify(job.progress) },
        { where: `${at} failedReason`, content: String(job.failedReason) },
        { where: `${at} stacktrace`, content: JSON.stringify(job.stacktrace) },
        { where: `${at} logs`, content: logs.join('\n') },
        { where: `${at} as a whole`, content: JSON.stringify(job.toJSON()) },
      );
    }
    // what was searched is the real thing: results, progress, failures and log lines are there
    const all = places.map((p) => p.content).join('\n');
    for (const expected of ['manifestKey', '"stage":"done"', 'BF_REGIONS_FAILED', 'BF_CANCELLED', 'published us-east-1']) assert.ok(all.includes(expected), `the jobs hold ${expected}`);
    assert.ok(logLines >= 6, `job logs: ${logLines} lines`);
    assert.deepEqual(locateSecrets(places, needles), []);
  });

  it('no secret in what the API answers: job status, queue, metrics, OpenAPI, refused requests', async () => {
    for (const id of Object.values(run.ids)) {
      const s = await env.request('GET', `/v1/bundles/${id}`);
      assert.equal(s.status, 200, s.text);
      answer(`GET /v1/bundles/${id}`, s);
    }
    answer('GET /v1/queue', await env.request('GET', '/v1/queue'));
    for (const path of ['/metrics', '/openapi.json', '/healthz', '/readyz']) assert.equal((await call(`GET ${path}`, path)).status, 200, path);
    // a rejected credential is not echoed (each near-miss contains the real secret)
    assert.equal((await call('near-miss token', '/v1/queue', { authorization: `Bearer ${env.secrets.apiToken}0` })).status, 401);
    assert.equal((await call('token as basic auth', '/v1/queue', { authorization: basicAuth(env.secrets.apiToken) })).status, 401);
    const forged = await fetch(`${env.api.url}/v1/hooks/github`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': githubSignature('{}', `${env.secrets.githubWebhookSecret}0`) },
      body: '{}',
    });
    answer('forged webhook', { status: forged.status, headers: forged.headers, text: await forged.text() });
    assert.equal(forged.status, 401);

    const api = run.answers.filter((a) => !a.where.startsWith('Bull Board'));
    const text = api.map((a) => String(a.content)).join('\n');
    for (const expected of ['manifestKey', 'BF_CANCELLED', 'bundlefarm_', '"openapi":"3.1.0"']) assert.ok(text.includes(expected), `the answers hold ${expected}`);
    assert.deepEqual(locateSecrets(api, needles), []);
  });

  it('no secret in Bull Board: its page, queue listings, every job, every job log, Redis stats', async () => {
    const admin = { authorization: basicAuth(env.secrets.adminPassword) };
    const page = await call('Bull Board page', '/admin/queues', admin);
    assert.equal(page.status, 200);
    assert.match(page.text, /<title>bundlefarm<\/title>/);
    for (const status of ['latest', 'completed', 'failed']) {
      const r = await call(`Bull Board queue listing (${status})`, `/admin/queues/api/queues?activeQueue=${BUNDLE_QUEUE}&status=${status}&jobsPerPage=50`, admin);
      assert.equal(r.status, 200, r.text);
      const jobs = (JSON.parse(r.text) as { queues: Array<{ jobs: unknown[] }> }).queues[0]!.jobs;
      assert.equal(jobs.length, status === 'latest' ? 4 : 2, `${status} jobs listed`);
    }
    for (const id of Object.values(run.ids)) {
      for (const path of [`/admin/queues/api/queues/${BUNDLE_QUEUE}/${id}`, `/admin/queues/api/queues/${BUNDLE_QUEUE}/${id}/logs`]) {
        assert.equal((await call(`Bull Board ${path}`, path, admin)).status, 200, path);
      }
    }
    for (const path of ['/admin/queues/api/redis/stats', `/admin/queues/api/queues/${BUNDLE_QUEUE}/workers`, `/admin/queues/api/queues/${BUNDLE_QUEUE}/metrics`]) {
      assert.equal((await call(`Bull Board ${path}`, path, admin)).status, 200, path);
    }
    assert.equal((await call('Bull Board near-miss password', '/admin/queues/api/queues', { authorization: basicAuth(`${env.secrets.adminPassword}0`) })).status, 401);

    const board = run.answers.filter((a) => a.where.startsWith('Bull Board'));
    const text = board.map((a) => String(a.content)).join('\n');
    for (const expected of ['manifestKey', 'BF_REGIONS_FAILED', 'BF_CANCELLED', 'published us-east-1']) assert.ok(text.includes(expected), `Bull Board shows ${expected}`);
    assert.deepEqual(locateSecrets(board, needles), []);
  });

  it('no secret anywhere in Redis (every key and value, read as bytes)', async () => {
    const places = await redisHaystacks(env.redis.url);
    const dump = places.map((p) => (typeof p.content === 'string' ? p.content : p.content.toString('latin1'))).join('\n');
    for (const expected of ['completedRegions', 'BF_REGIONS_FAILED', 'BF_CANCELLED', run.ids.hook]) assert.ok(dump.includes(expected), `Redis holds ${expected}`);
    assert.deepEqual(locateSecrets(places, needles), []);
  });

  it('no secret in the output of the API and worker processes (trace level)', async () => {
    const workerMessages = ['job started', 'bundled', 'region published', 'job completed', 'job failed', 'job cancelled'];
    const workerLog = (): string => workers.map((w) => w.output()).join('\n');
    await until('every kind of worker log line', () => workerMessages.every((m) => workerLog().includes(`"msg":"${m}`)) || undefined, 10_000);
    // the API writes its log asynchronously: a line about the last requests may still be on its way
    for (const m of ['bundle job enqueued', 'webhook handled', 'bundle job cancelled', 'admin request refused', 'incoming request']) {
      await env.api.waitForLog(new RegExp(`"msg":"${m}`), 10_000).catch(() => assert.fail(`the API logged "${m}"`));
    }
    const places: Haystack[] = [{ where: 'API process output', content: env.api.output() }, ...workers.map((w, i) => ({ where: `worker ${i + 1} output`, content: w.output() }))];
    assert.deepEqual(locateSecrets(places, needles), []);
  });
});
