/*
 * What a worker with the job MAC key and the principals file refuses of jobs read back from Redis, and
 * what the API refuses of a principal, with every part real (redis-server, the S3 front, the API
 * process, a worker process):
 *
 * - Replays (security re-review R5): a job's data with its genuine MAC, copied back into Redis long after
 *   it was issued (older than BUNDLEFARM_JOB_MAX_AGE, default 7 days), or dated in the future, or MAC'd
 *   without an issue time (the MAC of before), is failed for good without a request to S3. The issue
 *   time is under the MAC: moving it forward breaks the MAC.
 * - EC2 registration is part of a principal's scope (`register`: true, false or region globs): the API
 *   answers 403 naming `regions.N.register`, and the worker refuses a MAC'd job outside it all the same.
 *   A principal without `register` in its file may register anywhere, as before.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import { BUNDLE_QUEUE, hashToken, jobMac, NOTIFY_QUEUE, validateJobSpec, type BundleJobData } from '@bundlefarm/queue';
import { apiRequest } from '../helpers/api-request.js';
import { writeRandomFile } from '../helpers/images.js';
import { ACCOUNT, serviceProcesses, until } from '../helpers/service-processes.js';

const token = (label: string): string => `${label}-${randomBytes(24).toString('base64url')}`;
const TOKENS = { a: token('team-a'), b: token('team-b'), legacy: token('old') };
const MAC_KEY = randomBytes(32).toString('hex');
const DAY = 24 * 3600_000;

const env = await serviceProcesses({
  jobMacKey: MAC_KEY,
  principals: {
    principals: [
      // registers in us-east-1 only
      { name: 'team-a', tokenHashes: [hashToken(TOKENS.a)], identities: ['release'], targets: ['amis/team-a/**'], images: ['team-a/**'], register: ['us-east-1'] },
      // never registers
      { name: 'team-b', tokenHashes: [hashToken(TOKENS.b)], identities: ['release'], targets: ['amis/team-b/**'], images: ['team-b/**'], register: false },
      // a file written before `register` existed: may register anywhere
      { name: 'old', tokenHashes: [hashToken(TOKENS.legacy)], identities: ['release'], targets: ['amis/old/**'], images: ['team-a/**'] },
    ],
  },
  images: async (root) => {
    for (const team of ['team-a', 'team-b']) {
      await mkdir(join(root, team));
      await writeRandomFile(join(root, team, 'os.img'), 256 * 1024, 3);
    }
  },
});
await env.s3.createBucket('amis');
const queue = new Queue<BundleJobData>(BUNDLE_QUEUE, { connection: { host: '127.0.0.1', port: env.redis.port }, prefix: env.prefix });
after(() => queue.close());

const as = (who: keyof typeof TOKENS) => (method: string, path: string, body?: unknown) => apiRequest(env.api.url, TOKENS[who], method, path, body);

function spec(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: `os-${randomUUID().slice(0, 8)}`,
    image: 'team-a/os.img',
    architecture: 'x86_64',
    accountId: ACCOUNT,
    identity: 'release',
    regions: [{ region: 'us-east-1', bucket: 'amis', prefix: 'team-a/' }],
    ...over,
  };
}

async function finished(id: string): Promise<{ state: string; failedReason?: string; attemptsMade: number }> {
  return until(`job ${id} to finish`, async () => {
    const state = await queue.getJobState(id);
    if (state !== 'completed' && state !== 'failed') return undefined;
    const job = await queue.getJob(id);
    return { state, attemptsMade: job?.attemptsMade ?? -1, ...(job?.failedReason ? { failedReason: job.failedReason } : {}) };
  }, 60_000);
}

async function keysUnder(prefix: string): Promise<string[]> {
  const r = await env.client.send(new ListObjectsV2Command({ Bucket: 'amis', Prefix: prefix }));
  return (r.Contents ?? []).map((o) => o.Key!);
}

/** Adds a job with a genuine MAC over `data` (as the API would have made it), as whoever writes to Redis would. */
async function addMacd(data: Omit<BundleJobData, 'mac'>, edit: (d: BundleJobData) => BundleJobData = (d) => d): Promise<string> {
  const id = `replayed-${randomUUID()}`;
  const mac = jobMac(Buffer.from(MAC_KEY), { id, ...data });
  await queue.add('replayed', edit({ ...data, mac }), { jobId: id, attempts: 3 });
  return id;
}

function validated(over: Record<string, unknown>): BundleJobData['spec'] {
  const v = validateJobSpec(spec(over));
  assert.ok(v.ok);
  return v.spec;
}

describe('replays of MAC\'d jobs (R5)', { timeout: 180_000 }, () => {
  it('runs a job the API issued now', async () => {
    const r = await as('a')('POST', '/v1/bundles', spec({ name: 'fresh' }));
    assert.equal(r.status, 202, r.text);
    assert.equal((await finished(r.json.id)).state, 'completed');
    const job = await queue.getJob(r.json.id);
    assert.equal(typeof job?.data.issuedAt, 'number', 'the API dates the job');
  });

  it('refuses a genuine MAC issued longer ago than the maximum age, in the future, or without an issue time — nothing written', async () => {
    const cases: Array<[string, Omit<BundleJobData, 'mac'>, RegExp]> = [
      ['8 days old', { spec: validated({ name: 'old-8d', replace: true }), source: 'api', principal: 'team-a', issuedAt: Date.now() - 8 * DAY }, /longer ago than the maximum job age \(604800 s, BUNDLEFARM_JOB_MAX_AGE\)/],
      ['an hour ahead', { spec: validated({ name: 'ahead-1h' }), source: 'api', principal: 'team-a', issuedAt: Date.now() + 3600_000 }, /in the future/],
      ['no issue time (a MAC of before)', { spec: validated({ name: 'undated' }), source: 'api', principal: 'team-a' }, /carries no issue time/],
    ];
    for (const [what, data, reason] of cases) {
      const id = await addMacd(data);
      const end = await finished(id);
      assert.equal(end.state, 'failed', what);
      assert.match(end.failedReason ?? '', /^BF_JOB_UNAUTHORIZED: /, what);
      assert.match(end.failedReason ?? '', reason, what);
      assert.equal(end.attemptsMade, 1, `${what}: failed for good`);
      assert.deepEqual(await keysUnder(`team-a/${data.spec.name}`), [], `${what}: nothing written`);
    }
  });

  it('a refused replay makes no job-end notice (no signed notification, no commit status): a fresh job of the same kind does', async () => {
    const notices = new Queue(NOTIFY_QUEUE, { connection: { host: '127.0.0.1', port: env.redis.port }, prefix: env.prefix });
    try {
      const noticesOf = async (id: string): Promise<number> => (await notices.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed'])).filter((j) => j?.data?.notice?.job === id).length;
      const fresh = await addMacd({ spec: validated({ name: 'noticed' }), source: 'api', principal: 'team-a', issuedAt: Date.now(), notify: true });
      assert.equal((await finished(fresh)).state, 'completed');
      await until('the notice of the fresh job', async () => ((await noticesOf(fresh)) > 0 ? true : undefined), 30_000);
      const replayed = await addMacd({ spec: validated({ name: 'replayed-noticed' }), source: 'api', principal: 'team-a', issuedAt: Date.now() - 8 * DAY, notify: true });
      const end = await finished(replayed);
      assert.match(end.failedReason ?? '', /^BF_JOB_UNAUTHORIZED: /);
      // the worker queues a notice before it moves the job to its end state: none is there for the replay
      assert.equal(await noticesOf(replayed), 0);
    } finally {
      await notices.close();
    }
  });

  it("an API retry by the job's principal issues it anew: the refused old job then runs", async () => {
    const id = await addMacd({ spec: validated({ name: 'old-retried' }), source: 'api', principal: 'team-a', issuedAt: Date.now() - 8 * DAY });
    assert.match((await finished(id)).failedReason ?? '', /maximum job age/);
    const r = await as('a')('POST', `/v1/bundles/${id}/retry`);
    assert.equal(r.status, 202, r.text);
    assert.equal((await finished(id)).state, 'completed');
    assert.ok((await keysUnder('team-a/old-retried')).length > 0, 'published');
  });

  it('the issue time is under the MAC: an old job re-dated to now does not run', async () => {
    const id = await addMacd(
      { spec: validated({ name: 'redated' }), source: 'api', principal: 'team-a', issuedAt: Date.now() - 8 * DAY },
      (d) => ({ ...d, issuedAt: Date.now() }),
    );
    const end = await finished(id);
    assert.equal(end.state, 'failed');
    assert.match(end.failedReason ?? '', /^BF_JOB_UNAUTHORIZED: .*MAC does not match/);
  });
});

describe('EC2 registration in a principal\'s scope', { timeout: 120_000 }, () => {
  const register = { name: 'os image' };

  it('the API refuses registration outside the scope: 403 naming regions.N.register', async () => {
    const a = await as('a')('POST', '/v1/bundles', spec({ regions: [{ region: 'eu-west-1', bucket: 'amis', prefix: 'team-a/', register }] }));
    assert.equal(a.status, 403, a.text);
    assert.equal(a.json.error, 'BF_OUT_OF_SCOPE');
    assert.match(a.text, /regions\.0\.register/);
    assert.match(a.text, /may not register an AMI in \\"eu-west-1\\" \(allowed: us-east-1\)/);
    const b = await as('b')('POST', '/v1/bundles', spec({ image: 'team-b/os.img', regions: [{ region: 'us-east-1', bucket: 'amis', prefix: 'team-b/', register }] }));
    assert.equal(b.status, 403, b.text);
    assert.match(b.text, /regions\.0\.register.*it may register in no region/);
  });

  it('allowed: in a region of the list, and anywhere for a principal whose file has no `register`', async () => {
    await queue.pause();
    try {
      const ids: string[] = [];
      for (const [who, prefix, region] of [['a', 'team-a/', 'us-east-1'], ['legacy', 'old/', 'eu-west-1']] as const) {
        const r = await as(who)('POST', '/v1/bundles', spec({ regions: [{ region, bucket: 'amis', prefix, register }] }));
        assert.equal(r.status, 202, `${who}: ${r.text}`);
        ids.push(r.json.id);
      }
      for (const id of ids) await queue.remove(id);
    } finally {
      await queue.resume();
    }
  });

  it('the worker refuses a MAC\'d job that registers outside its principal\'s scope, nothing written', async () => {
    const id = await addMacd({
      spec: validated({ name: 'reg-b', image: 'team-b/os.img', regions: [{ region: 'us-east-1', bucket: 'amis', prefix: 'team-b/', register }] }),
      source: 'api',
      principal: 'team-b',
      issuedAt: Date.now(),
    });
    const end = await finished(id);
    assert.equal(end.state, 'failed');
    assert.match(end.failedReason ?? '', /^BF_OUT_OF_SCOPE: .*team-b.*register/);
    assert.equal(end.attemptsMade, 1);
    assert.deepEqual(await keysUnder('team-b/reg-b'), []);
  });
});
