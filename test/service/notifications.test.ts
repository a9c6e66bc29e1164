import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Queue, type Job } from 'bullmq';
import { addNotice, BUNDLE_QUEUE, hashToken, jobMacKey, jobNotice, NOTIFY_QUEUE, type BundleJobData, type BundleJobResult, type NoticeJobData, type NotificationPayload } from '@bundlefarm/queue';
import { githubSignature, verifyNotificationSignature, type DeliveryRecord } from '@bundlefarm/server';
import { apiRequest } from '../helpers/api-request.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { writeRandomFile } from '../helpers/images.js';
import { startNotificationReceiver, type ReceivedRequest } from '../helpers/notification-receiver.js';
import { findSecrets, secretForms } from '../helpers/secret-scan.js';
import { ACCOUNT, serviceProcesses, spawnService, until, WORKER_BIN } from '../helpers/service-processes.js';

/**
 * Job-end notifications with every part real: redis-server, the S3 front, the API process (which runs
 * the notifier) and a worker process, given the same principals file and job MAC key. A loopback HTTP
 * server stands in for the receivers: team-a's and team-b's endpoints (principals file), and the GitHub
 * and GitLab REST APIs (BUNDLEFARM_GITHUB_API_URL / BUNDLEFARM_GITLAB_API_URL point at it) — a stand-in,
 * not GitHub or GitLab.
 *
 * "Exactly one" is asserted once the notice itself is finished in the notice queue (its deliveries are
 * over, delivered or given up): nothing more is sent for it after that, so no wait for silence.
 */
const token = (label: string): string => `${label}-${randomBytes(24).toString('base64url')}`;
const TOKENS = { a: token('team-a'), b: token('team-b') };
const SECRETS = { a: `nsa-${randomBytes(18).toString('hex')}`, b: `nsb-${randomBytes(18).toString('hex')}` };
const GITHUB_STATUS_TOKEN = `ghp_${randomBytes(18).toString('hex')}`;
const GITLAB_STATUS_TOKEN = `glpat-${randomBytes(18).toString('hex')}`;
const GITLAB_HOOK_TOKEN = `glh-${randomBytes(18).toString('hex')}`;
const MAC_KEY = randomBytes(32).toString('hex');
const PUBLIC_URL = 'https://bundlefarm.example.com';

const receiver = await startNotificationReceiver();

function ruleSpec(prefix: string): Record<string, unknown> {
  return {
    name: `os-${prefix}-{{tag}}`,
    image: 'os.img',
    architecture: 'x86_64',
    accountId: ACCOUNT,
    identity: 'release',
    regions: [{ region: 'us-east-1', bucket: 'amis', prefix: `${prefix}/` }],
    level: 1,
  };
}

const env = await serviceProcesses({
  workers: 0, // the first test cancels a job no worker has taken
  jobMacKey: MAC_KEY,
  principals: {
    principals: [
      {
        name: 'team-a',
        tokenHashes: [hashToken(TOKENS.a)],
        identities: ['*'],
        targets: ['amis/**'],
        images: ['**'],
        notify: [{ url: `${receiver.url}/a/hook`, secretEnv: 'TEAM_A_NOTIFY_SECRET' }],
      },
      {
        name: 'team-b',
        tokenHashes: [hashToken(TOKENS.b)],
        identities: ['*'],
        targets: ['amis/**'],
        images: ['**'],
        notify: [{ url: `${receiver.url}/b/hook?channel=builds`, secretEnv: 'TEAM_B_NOTIFY_SECRET', events: ['completed'] }],
      },
      { name: 'release-ci', identities: ['release', 'not-on-the-workers'], targets: ['amis/**'], images: ['**'] },
    ],
  },
  webhookRules: {
    rules: [
      { name: 'gh-tags', provider: 'github', events: ['push'], when: { tag: 'v*' }, principal: 'release-ci', spec: ruleSpec('gh') },
      { name: 'gh-broken', provider: 'github', events: ['push'], when: { tag: 'broken-*' }, principal: 'release-ci', spec: { ...ruleSpec('ghb'), identity: 'not-on-the-workers' } },
      { name: 'gl-tags', provider: 'gitlab', events: ['tag_push'], when: { tag: 'v*' }, principal: 'release-ci', spec: ruleSpec('gl') },
    ],
  },
  apiEnv: {
    TEAM_A_NOTIFY_SECRET: SECRETS.a,
    TEAM_B_NOTIFY_SECRET: SECRETS.b,
    BUNDLEFARM_NOTIFY_BACKOFF_MS: '50',
    BUNDLEFARM_JOB_ATTEMPTS: '1',
    BUNDLEFARM_PUBLIC_URL: PUBLIC_URL,
    BUNDLEFARM_GITHUB_STATUS_TOKEN: GITHUB_STATUS_TOKEN,
    BUNDLEFARM_GITHUB_API_URL: `${receiver.url}/gh/api/v3`,
    BUNDLEFARM_GITLAB_STATUS_TOKEN: GITLAB_STATUS_TOKEN,
    BUNDLEFARM_GITLAB_API_URL: `${receiver.url}/gl/api/v4/`,
    BUNDLEFARM_GITLAB_WEBHOOK_TOKENS: GITLAB_HOOK_TOKEN,
  },
  images: (root) => writeRandomFile(join(root, 'os.img'), 1024 * 1024, 7),
});
await env.s3.createBucket('amis');

// the worker reaches S3 through this proxy, so a test can hold a job in the middle of its upload
const proxy = await startFaultProxy({ target: env.s3.endpoint });
async function startProxiedWorker(): Promise<void> {
  const config = JSON.parse(await readFile(env.workerEnv.BUNDLEFARM_CONFIG!, 'utf8')) as { s3: Record<string, unknown> };
  config.s3.endpoint = proxy.endpoint;
  const file = join(env.dir, 'worker-proxied.json');
  await writeFile(file, JSON.stringify(config));
  const worker = spawnService(WORKER_BIN, { ...env.workerEnv, BUNDLEFARM_CONFIG: file });
  env.workers.push(worker);
  await worker.waitForLog(/"msg":"worker started"/);
}

const connection = { host: '127.0.0.1', port: env.redis.port };
const bundles = new Queue<BundleJobData, BundleJobResult>(BUNDLE_QUEUE, { connection, prefix: env.prefix });
const notices = new Queue<NoticeJobData & { deliveries?: Record<string, DeliveryRecord> }>(NOTIFY_QUEUE, { connection, prefix: env.prefix });
after(async () => {
  await bundles.close();
  await notices.close();
  await proxy.close();
});

const A = (method: string, path: string, body?: unknown) => apiRequest(env.api.url, TOKENS.a, method, path, body);
const B = (method: string, path: string, body?: unknown) => apiRequest(env.api.url, TOKENS.b, method, path, body);

/** Every secret of this run: none may appear in a notification. */
const NEEDLES = {
  'team-a token': secretForms(TOKENS.a),
  'team-b token': secretForms(TOKENS.b),
  'team-a notify secret': secretForms(SECRETS.a),
  'team-b notify secret': secretForms(SECRETS.b),
  'GitHub status token': secretForms(GITHUB_STATUS_TOKEN),
  'GitLab status token': secretForms(GITLAB_STATUS_TOKEN),
  'GitLab hook token': secretForms(GITLAB_HOOK_TOKEN),
  'GitHub hook secret': secretForms(env.secrets.githubWebhookSecret),
  'S3 secret': secretForms(env.secrets.s3.secretAccessKey),
  'job MAC key': secretForms(MAC_KEY),
};

function spec(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: `os-${randomUUID().slice(0, 8)}`,
    image: 'os.img',
    architecture: 'x86_64',
    accountId: ACCOUNT,
    identity: 'release',
    regions: [{ region: 'us-east-1', bucket: 'amis', prefix: 'team/' }],
    level: 1,
    ...over,
  };
}

async function enqueue(as: typeof A, body: Record<string, unknown>): Promise<string> {
  const r = await as('POST', '/v1/bundles', body);
  assert.equal(r.status, 202, r.text);
  return r.json.id as string;
}

async function finished(id: string): Promise<Job<BundleJobData, BundleJobResult>> {
  return until(`job ${id} to finish`, async () => {
    // the state first, then the job (read the other way round, it could show the data of before the end)
    const state = await bundles.getJobState(id);
    return state === 'completed' || state === 'failed' ? bundles.getJob(id) : undefined;
  });
}

/** The notice once its deliveries are over (the notice job completed or failed). */
async function noticeDone(id: string): Promise<Job<NoticeJobData & { deliveries?: Record<string, DeliveryRecord> }>> {
  return until(`notice ${id} to be done`, async () => {
    const state = await notices.getJobState(id);
    return state === 'completed' || state === 'failed' ? notices.getJob(id) : undefined;
  });
}

/** Deliveries to `prefix` about job `id`. */
function deliveriesOf(prefix: string, id: string): ReceivedRequest[] {
  return receiver.to(prefix).filter((r) => (JSON.parse(r.body.toString('utf8')) as NotificationPayload).job === id);
}

/** Checks one delivery as a receiver would: signature over the raw bytes, headers, no secret. */
function verified(r: ReceivedRequest, secret: string): NotificationPayload {
  assert.equal(r.method, 'POST');
  assert.equal(r.headers['content-type'], 'application/json');
  assert.ok(verifyNotificationSignature(secret, r.body, r.headers['x-bundlefarm-signature'] as string), 'the signature verifies with the endpoint secret');
  assert.ok(!verifyNotificationSignature(SECRETS.a === secret ? SECRETS.b : SECRETS.a, r.body, r.headers['x-bundlefarm-signature'] as string), 'and not with another');
  const payload = JSON.parse(r.body.toString('utf8')) as NotificationPayload;
  assert.match(r.headers['x-bundlefarm-delivery'] as string, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(payload.delivery, r.headers['x-bundlefarm-delivery']);
  assert.equal(r.headers['x-bundlefarm-event'], payload.event);
  assert.deepEqual(findSecrets(r.body.toString('utf8') + JSON.stringify(r.headers), NEEDLES), []);
  return payload;
}

describe('job-end notifications', { timeout: 180_000 }, () => {
  it('a job cancelled before it started: one signed job.cancelled delivery to its principal', async () => {
    const s = spec();
    const id = await enqueue(A, s);
    const cancel = await A('DELETE', `/v1/bundles/${id}`);
    assert.equal(cancel.status, 200, cancel.text);
    assert.equal(cancel.json.outcome, 'removed');
    await noticeDone(`${id}.cancelled.0`);
    const got = deliveriesOf('/a/', id);
    assert.equal(got.length, 1, 'exactly one delivery');
    const p = verified(got[0]!, SECRETS.a);
    assert.equal(p.event, 'job.cancelled');
    assert.equal(p.state, 'cancelled');
    assert.equal(p.principal, 'team-a');
    assert.equal(p.name, s.name);
    assert.equal(p.error?.code, 'BF_CANCELLED');
    assert.deepEqual(p.spec.targets, [{ region: 'us-east-1', bucket: 'amis', prefix: 'team/' }]);
    // the worker starts now, for the jobs below
    await startProxiedWorker();
  });

  it('a completed job: one signed job.completed delivery with manifest keys and sizes, recorded in the job', async () => {
    const s = spec();
    const id = await enqueue(A, s);
    const job = await finished(id);
    assert.equal(await job.getState(), 'completed', job.failedReason);
    const notice = await noticeDone(`${id}.completed.0`);
    const got = deliveriesOf('/a/', id);
    assert.equal(got.length, 1, 'exactly one delivery');
    const p = verified(got[0]!, SECRETS.a);
    assert.equal(p.event, 'job.completed');
    assert.equal(p.job, id);
    assert.equal(p.principal, 'team-a');
    assert.equal(p.source, 'api');
    assert.equal(p.name, s.name);
    const result = job.returnvalue;
    assert.equal(p.result?.size, 1024 * 1024);
    assert.equal(p.result?.digest, result.digest);
    assert.equal(p.result?.parts, result.parts);
    assert.deepEqual(p.regions, [
      { region: 'us-east-1', bucket: 'amis', prefix: 'team/', manifestKey: `team/${String(s.name)}.manifest.xml`, parts: result.parts },
    ]);
    assert.equal(p.error, undefined);
    // recorded: in the notice (by target) and in the bundle job's log
    const record = Object.values(notice.data.deliveries ?? {});
    assert.equal(record.length, 1);
    assert.equal(record[0]!.delivered, true);
    assert.equal(record[0]!.delivery, p.delivery);
    assert.equal(record[0]!.target, `principal:team-a webhook 127.0.0.1:${new URL(receiver.url).port}`);
    const { logs } = await bundles.getJobLogs(id);
    assert.ok(logs.some((l) => l.includes(`notification job.completed to principal:team-a webhook`) && l.includes(`delivered, delivery ${p.delivery!}`)), logs.join('\n'));
    assert.deepEqual(findSecrets(JSON.stringify(notice.data) + logs.join('\n'), NEEDLES), []);
    // on Bull Board, read-only even for the admin login: a notice is looked at, never edited there
    const admin = { authorization: `Basic ${Buffer.from(`admin:${env.secrets.adminPassword}`).toString('base64')}` };
    const board = await fetch(`${env.api.url}/admin/manage/api/queues?activeQueue=notifications&status=completed`, { headers: admin });
    assert.equal(board.status, 200);
    const queues = ((await board.json()) as { queues: Array<{ name: string; readOnlyMode: boolean; jobs: Array<{ id: string }> }> }).queues;
    const shown = queues.find((q) => q.name === 'notifications');
    assert.equal(shown?.readOnlyMode, true);
    assert.ok(shown.jobs.some((j) => j.id === `${id}.completed.0`));
    const pause = await fetch(`${env.api.url}/admin/manage/api/queues/notifications/pause`, { method: 'PUT', headers: admin });
    assert.ok(pause.status >= 400, `no write to the notice queue (${pause.status})`);
    assert.equal(await notices.isPaused(), false);
  });

  it('a failed job: one signed job.failed delivery with the error code and message', async () => {
    const id = await enqueue(A, spec({ identity: 'not-on-the-workers' }));
    const job = await finished(id);
    assert.equal(await job.getState(), 'failed');
    await noticeDone(`${id}.failed.0`);
    const got = deliveriesOf('/a/', id);
    assert.equal(got.length, 1, 'exactly one delivery');
    const p = verified(got[0]!, SECRETS.a);
    assert.equal(p.event, 'job.failed');
    assert.equal(p.state, 'failed');
    assert.equal(`${p.error!.code}: ${p.error!.message}`, job.failedReason);
    assert.equal(p.regions[0]!.manifestKey, undefined);
    assert.equal(p.result, undefined);
  });

  it('a running job cancelled: one signed job.cancelled delivery, from the worker that stopped it', async () => {
    const s = spec();
    const name = String(s.name);
    // the job's first part upload is held at the proxy until the job is cancelled
    const delayedBefore = proxy.counters.delayed;
    proxy.addFault({ action: { type: 'delay', ms: 60_000 }, match: (r) => r.method === 'PUT' && r.path.includes(`/${name}.part.`), times: 1 });
    const id = await enqueue(A, s);
    await until('the first part upload to be held', () => proxy.counters.delayed > delayedBefore);
    const cancel = await A('DELETE', `/v1/bundles/${id}`);
    assert.equal(cancel.status, 202, cancel.text);
    assert.equal(cancel.json.outcome, 'cancelling');
    const job = await finished(id);
    assert.equal(await job.getState(), 'failed');
    assert.match(job.failedReason, /^BF_CANCELLED: /);
    await noticeDone(`${id}.cancelled.0`);
    const got = deliveriesOf('/a/', id);
    assert.equal(got.length, 1, 'exactly one delivery');
    const p = verified(got[0]!, SECRETS.a);
    assert.equal(p.event, 'job.cancelled');
    assert.equal(p.error?.code, 'BF_CANCELLED');
    assert.equal(await notices.getJob(`${id}.failed.0`), undefined, 'no failure notice besides');
  });

  it('a notice queued before its job ended waits for the end; one for an end that did not happen is dropped', async () => {
    const s = spec();
    const name = String(s.name);
    const delayedBefore = proxy.counters.delayed;
    proxy.addFault({ action: { type: 'delay', ms: 8_000 }, match: (r) => r.method === 'PUT' && r.path.includes(`/${name}.part.`), times: 1 });
    const id = await enqueue(A, s);
    await until('the first part upload to be held', () => proxy.counters.delayed > delayedBefore);
    // what a worker that queued its notice and died before BullMQ recorded the end leaves behind — twice,
    // as if one attempt had been about to complete and another to fail
    const running = (await bundles.getJob(id))!;
    for (const state of ['completed', 'failed'] as const) {
      const notice = jobNotice({ id, data: running.data, state, ...(state === 'failed' ? { failedReason: 'BF_WORKER_INTERNAL: the worker died' } : {}) });
      assert.ok(await addNotice(notices, notice, jobMacKey(MAC_KEY)));
    }
    await until('both notices to be held back', async () => {
      const states = await Promise.all(['completed', 'failed'].map(async (st) => (await notices.getJob(`${id}.${st}.0`))!.getState()));
      return states.every((st) => st === 'delayed');
    });
    assert.equal(await running.getState(), 'active', 'held while the job runs');
    assert.equal(deliveriesOf('/a/', id).length, 0);

    const job = await finished(id);
    assert.equal(await job.getState(), 'completed', job.failedReason);
    const completed = await noticeDone(`${id}.completed.0`);
    const failed = await noticeDone(`${id}.failed.0`);
    assert.deepEqual(failed.returnvalue, { skipped: 'superseded: the job ended otherwise' });
    assert.equal(await completed.getState(), 'completed');
    const got = deliveriesOf('/a/', id);
    assert.equal(got.length, 1, 'exactly one delivery: the worker reported the completion under the same notice id');
    assert.equal(verified(got[0]!, SECRETS.a).event, 'job.completed');
  });

  it('a notice written straight into Redis (no MAC) is not delivered', async () => {
    const id = `forged-${randomUUID()}`;
    const forged: NotificationPayload = {
      event: 'job.completed',
      job: id,
      run: 0,
      state: 'completed',
      principal: 'team-a',
      source: 'api',
      name: 'forged',
      spec: { image: 'os.img', architecture: 'x86_64', targets: [] },
      regions: [],
      at: new Date().toISOString(),
    };
    await notices.add('completed', { notice: forged }, { jobId: `${id}.completed.0` });
    const notice = await noticeDone(`${id}.completed.0`);
    assert.equal(await notice.getState(), 'failed');
    assert.match(notice.failedReason, /^BF_NOTICE_UNAUTHORIZED: /);
    assert.equal(deliveriesOf('/a/', id).length, 0);
    // nor with a MAC made with another key
    const other = `${id}-other`;
    await notices.add('completed', { notice: { ...forged, job: other }, mac: `n1:${'0'.repeat(64)}` }, { jobId: `${other}.completed.0` });
    assert.equal(await (await noticeDone(`${other}.completed.0`)).getState(), 'failed');
    assert.equal(deliveriesOf('/a/', other).length, 0);
  });

  it('a receiver that fails twice: delivered on the third attempt, the same delivery id and body each time', async () => {
    receiver.failFirst('/b/', 2);
    const id = await enqueue(B, spec());
    await finished(id);
    const notice = await noticeDone(`${id}.completed.0`);
    assert.equal(await notice.getState(), 'completed');
    const got = deliveriesOf('/b/', id);
    assert.deepEqual(got.map((r) => r.status), [500, 500, 200]);
    assert.equal(new Set(got.map((r) => r.headers['x-bundlefarm-delivery'])).size, 1, 'one delivery id');
    assert.equal(new Set(got.map((r) => r.body.toString('base64'))).size, 1, 'the same body');
    for (const r of got) verified(r, SECRETS.b);
    assert.equal(got[0]!.path, '/b/hook?channel=builds');
    const [record] = Object.values(notice.data.deliveries ?? {});
    assert.equal(record!.attempts, 3);
    assert.equal(record!.delivered, true);
  });

  it('an endpoint that asks for completions only hears nothing of a failure', async () => {
    const id = await enqueue(B, spec({ identity: 'not-on-the-workers' }));
    const job = await finished(id);
    assert.equal(await job.getState(), 'failed');
    const notice = await noticeDone(`${id}.failed.0`);
    assert.deepEqual(notice.data.deliveries, {});
    assert.equal(deliveriesOf('/b/', id).length, 0);
  });
});

/** A signed GitHub push of `tag` at `sha` to acme/os; the job id. */
async function githubPush(tag: string, sha: string): Promise<string> {
  const body = JSON.stringify({
    ref: `refs/tags/${tag}`,
    before: '0'.repeat(40),
    after: sha,
    deleted: false,
    pusher: { name: 'ci', email: 'ci@example.com' },
    repository: { full_name: 'acme/os', name: 'os', owner: { login: 'acme' } },
    head_commit: { id: sha, message: 'release' },
  });
  const res = await fetch(`${env.api.url}/v1/hooks/github`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': githubSignature(body, env.secrets.githubWebhookSecret) },
    body,
  });
  const hook = (await res.json()) as { id: string };
  assert.equal(res.status, 202, JSON.stringify(hook));
  return hook.id;
}

describe('commit statuses for webhook jobs', { timeout: 180_000 }, () => {
  it('GitHub: pending, then success, on the pushed commit, through the configured API base', async () => {
    const sha = randomBytes(20).toString('hex');
    const hook = { id: await githubPush(`v1.${randomBytes(2).readUInt16BE()}`, sha) };
    const job = await finished(hook.id);
    assert.equal(await job.getState(), 'completed', job.failedReason);
    await noticeDone(`${hook.id}.queued.0`);
    await noticeDone(`${hook.id}.completed.0`);
    const got = receiver.to('/gh/').filter((r) => r.path.endsWith(sha));
    assert.deepEqual(got.map((r) => r.path), [`/gh/api/v3/repos/acme/os/statuses/${sha}`, `/gh/api/v3/repos/acme/os/statuses/${sha}`]);
    const bodies = got.map((r) => JSON.parse(r.body.toString('utf8')) as Record<string, string>);
    assert.deepEqual(bodies.map((b) => b.state), ['pending', 'success']);
    for (const [i, r] of got.entries()) {
      assert.equal(r.headers.authorization, `Bearer ${GITHUB_STATUS_TOKEN}`);
      assert.equal(bodies[i]!.context, 'bundlefarm');
      assert.equal(bodies[i]!.target_url, `${PUBLIC_URL}/v1/bundles/${encodeURIComponent(hook.id)}`);
    }
    assert.deepEqual(findSecrets(got.map((r) => r.body.toString('utf8')).join('\n'), NEEDLES), []);
  });

  it('GitHub: pending, then failure with the error code, when the job fails', async () => {
    const sha = randomBytes(20).toString('hex');
    const id = await githubPush(`broken-${randomBytes(2).readUInt16BE()}`, sha);
    const job = await finished(id);
    assert.equal(await job.getState(), 'failed');
    await noticeDone(`${id}.queued.0`);
    await noticeDone(`${id}.failed.0`);
    const got = receiver.to('/gh/').filter((r) => r.path === `/gh/api/v3/repos/acme/os/statuses/${sha}`);
    const bodies = got.map((r) => JSON.parse(r.body.toString('utf8')) as Record<string, string>);
    assert.deepEqual(bodies.map((b) => b.state), ['pending', 'failure']);
    assert.ok(bodies[1]!.description!.includes(job.failedReason.split(':')[0]!), bodies[1]!.description);
  });

  it('GitLab: pending, then success, on the tagged commit of the project (its path URL-encoded)', async () => {
    const sha = randomBytes(20).toString('hex');
    const body = JSON.stringify({
      object_kind: 'tag_push',
      ref: `refs/tags/v2.${randomBytes(2).readUInt16BE()}`,
      before: '0'.repeat(40),
      after: sha,
      checkout_sha: sha,
      project: { path_with_namespace: 'acme/platform/os', path: 'os', namespace: 'platform' },
    });
    const res = await fetch(`${env.api.url}/v1/hooks/gitlab`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Tag Push Hook', 'x-gitlab-event-uuid': randomUUID(), 'x-gitlab-token': GITLAB_HOOK_TOKEN },
      body,
    });
    const hook = (await res.json()) as { id: string };
    assert.equal(res.status, 202, JSON.stringify(hook));
    const job = await finished(hook.id);
    assert.equal(await job.getState(), 'completed', job.failedReason);
    await noticeDone(`${hook.id}.queued.0`);
    await noticeDone(`${hook.id}.completed.0`);
    const got = receiver.to('/gl/').filter((r) => r.path.endsWith(sha));
    assert.deepEqual(got.map((r) => r.path), [`/gl/api/v4/projects/acme%2Fplatform%2Fos/statuses/${sha}`, `/gl/api/v4/projects/acme%2Fplatform%2Fos/statuses/${sha}`]);
    const bodies = got.map((r) => JSON.parse(r.body.toString('utf8')) as Record<string, string>);
    assert.deepEqual(bodies.map((b) => b.state), ['pending', 'success']);
    for (const [i, r] of got.entries()) {
      assert.equal(r.headers['private-token'], GITLAB_STATUS_TOKEN);
      assert.equal(bodies[i]!.name, 'bundlefarm');
    }
  });
});

describe('secrets', () => {
  it('none in the API\'s or the worker\'s log, nor in a notice or the notice queue', async () => {
    const logs = [env.api.output(), ...env.workers.map((w) => w.output())].join('\n');
    assert.ok(logs.includes('notification delivered'), 'the API logged its deliveries');
    assert.deepEqual(findSecrets(logs, NEEDLES), []);
    const all = await notices.getJobs(['completed', 'failed', 'delayed', 'waiting', 'active']);
    assert.ok(all.length > 0);
    assert.deepEqual(findSecrets(JSON.stringify(all.map((j) => ({ data: j.data, returnvalue: j.returnvalue as unknown, failedReason: j.failedReason }))), NEEDLES), []);
  });
});
