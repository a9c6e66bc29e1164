import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { BUNDLE_QUEUE, hashToken, jobMac, validateJobSpec, type BundleJobData } from '@bundlefarm/queue';
import { apiRequest } from '../helpers/api-request.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { writeRandomFile } from '../helpers/images.js';
import { ACCOUNT, WORKER_BIN, serviceProcesses, spawnService, until } from '../helpers/service-processes.js';

/**
 * Least privilege, with every part real: redis-server, s3rver (behind a proxy that counts what the
 * workers ask of it), the API process and a worker process, both given the same principals file and
 * job MAC key. Token A (team-a) may sign only as `nightly`, write only amis/team-a/…, read only
 * team-a/… images; token B (team-b) likewise for team-b; OPS may see and cancel every job.
 *
 * - A spec outside the caller's scope is 403 naming each offending field, and Redis is left exactly
 *   as it was (every key compared).
 * - A principal sees and cancels its own jobs only (others' are 404 to it); OPS may do both.
 * - A job written straight into Redis — without a MAC, with a MAC but outside its principal's scope,
 *   or naming no principal — is failed by the worker for good, without one request to S3.
 */
const token = (label: string): string => `${label}-${randomBytes(24).toString('base64url')}`;
const TOKENS = { a: token('team-a'), b: token('team-b'), ops: token('ops') };
const MAC_KEY = randomBytes(32).toString('hex');

const env = await serviceProcesses({
  workers: 0, // started below, through the counting proxy
  jobMacKey: MAC_KEY,
  principals: {
    principals: [
      { name: 'team-a', tokenHashes: [hashToken(TOKENS.a)], identities: ['nightly'], targets: ['amis/team-a/**'], images: ['team-a/**', 's3://images/team-a/**'] },
      { name: 'team-b', tokenHashes: [hashToken(TOKENS.b)], identities: ['nightly'], targets: ['amis/team-b/**'], images: ['team-b/**', 's3://images/team-b/**'] },
      { name: 'ops', tokenHashes: [hashToken(TOKENS.ops)], canCancelOthers: true },
    ],
  },
  images: async (root) => {
    for (const team of ['team-a', 'team-b']) {
      await mkdir(join(root, team));
      await writeRandomFile(join(root, team, 'os.img'), 1024 * 1024, team === 'team-a' ? 1 : 2);
    }
  },
});
await env.s3.createBucket('amis');
await env.s3.createBucket('images');
for (const team of ['team-a', 'team-b']) {
  await env.client.send(new PutObjectCommand({ Bucket: 'images', Key: `${team}/secret.img`, Body: randomBytes(4096) }));
}

// The worker reaches S3 only through this proxy: whatever it asks is recorded.
const proxy = await startFaultProxy({ target: env.s3.endpoint });
const workerConfig = JSON.parse(await readFile(env.workerEnv.BUNDLEFARM_CONFIG!, 'utf8')) as { s3: Record<string, unknown>; identities: Record<string, unknown> };
workerConfig.s3.endpoint = proxy.endpoint;
// two identities (the same test key pair): what a scope allows is the name, not the key
workerConfig.identities = { release: workerConfig.identities.release, nightly: workerConfig.identities.release };
const workerConfigFile = join(env.dir, 'worker-counted.json');
await writeFile(workerConfigFile, JSON.stringify(workerConfig));
const worker = spawnService(WORKER_BIN, { ...env.workerEnv, BUNDLEFARM_CONFIG: workerConfigFile });
env.workers.push(worker);
await worker.waitForLog(/"msg":"worker started"/);

const queue = new Queue<BundleJobData>(BUNDLE_QUEUE, { connection: { host: '127.0.0.1', port: env.redis.port }, prefix: env.prefix });
const redis = new Redis(env.redis.url);
after(async () => {
  await queue.close();
  redis.disconnect();
  await proxy.close();
});

const as = (who: keyof typeof TOKENS) => (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  apiRequest(env.api.url, TOKENS[who], method, path, body, headers);
const A = as('a');
const B = as('b');
const OPS = as('ops');

function spec(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: `os-${randomUUID().slice(0, 8)}`,
    image: 'team-a/os.img',
    architecture: 'x86_64',
    accountId: ACCOUNT,
    identity: 'nightly',
    regions: [{ region: 'us-east-1', bucket: 'amis', prefix: 'team-a/nightly/' }],
    level: 1,
    ...over,
  };
}

/** Every key in Redis with its type and (for strings, hashes, lists, sets, zsets) its content. */
async function redisState(): Promise<string> {
  const keys = (await redis.keys('*')).sort();
  const parts: string[] = [];
  for (const k of keys) {
    const type = await redis.type(k);
    let content: unknown;
    if (type === 'string') content = await redis.get(k);
    else if (type === 'hash') content = await redis.hgetall(k);
    else if (type === 'list') content = await redis.lrange(k, 0, -1);
    else if (type === 'set') content = (await redis.smembers(k)).sort();
    else if (type === 'zset') content = await redis.zrange(k, '0', '-1', 'WITHSCORES');
    else content = type; // streams (BullMQ's events) are written by workers too: their presence counts
    parts.push(`${k} ${type} ${JSON.stringify(content)}`);
  }
  return parts.join('\n');
}

/** Runs `fn` and asserts Redis holds exactly what it held before. */
async function redisUnchanged(fn: () => Promise<void>): Promise<void> {
  const before = await redisState();
  await fn();
  assert.equal(await redisState(), before, 'Redis changed');
}

async function finished(id: string): Promise<{ state: string; failedReason?: string }> {
  return until(`job ${id} to finish`, async () => {
    // the state first, then the job: read the other way round, a job that failed in between showed as
    // failed with the failedReason of before (none)
    const state = await queue.getJobState(id);
    if (state !== 'completed' && state !== 'failed') return undefined;
    const job = await queue.getJob(id);
    return { state, ...(job?.failedReason ? { failedReason: job.failedReason } : {}) };
  }, 60_000);
}

describe('scoped principals: the API', { timeout: 120_000 }, () => {
  it('A may not name identity release, a bucket or prefix outside its scope, or an s3:// image outside it: 403, field named, nothing queued', async () => {
    // let the worker's own start-up writes settle before Redis is compared
    await new Promise((r) => setTimeout(r, 200));
    await redisUnchanged(async () => {
      const cases: Array<[Record<string, unknown>, string[]]> = [
        [{ identity: 'release' }, ['identity']],
        [{ regions: [{ region: 'us-east-1', bucket: 'amis', prefix: 'team-a/x/' }, { region: 'eu-west-1', bucket: 'other-team-amis', prefix: 'team-a/' }] }, ['regions.1.bucket']],
        [{ regions: [{ region: 'us-east-1', bucket: 'amis', prefix: 'team-b/release/' }] }, ['regions.0.prefix']],
        [{ image: 's3://images/team-b/secret.img' }, ['image']],
        [{ image: 'team-b/os.img' }, ['image']],
        [{ identity: 'release', image: 's3://images/team-b/secret.img', regions: [{ region: 'us-east-1', bucket: 'release-amis', prefix: 'os/' }] }, ['identity', 'image', 'regions.0.bucket']],
      ];
      for (const [over, paths] of cases) {
        const r = await A('POST', '/v1/bundles', spec(over), { 'idempotency-key': `scoped-${randomUUID()}` });
        assert.equal(r.status, 403, `${JSON.stringify(over)}: ${r.text}`);
        assert.equal(r.json.error, 'BF_OUT_OF_SCOPE');
        assert.deepEqual(r.json.problems.map((p: { path: string }) => p.path), paths, r.text);
        assert.match(r.json.message, /team-a/);
      }
    });
    assert.equal(proxy.requests.length, 0, 'no S3 request was made for any of them');
  });

  it('A enqueues inside its scope; the job records the principal (never the token) and a MAC, and completes', async () => {
    const r = await A('POST', '/v1/bundles', spec({ name: 'team-a-ok' }));
    assert.equal(r.status, 202, r.text);
    const job = await queue.getJob(r.json.id);
    assert.equal(job?.data.principal, 'team-a');
    assert.match(job?.data.mac ?? '', /^v1:[0-9a-f]{64}$/);
    const all = await redisState();
    for (const t of Object.values(TOKENS)) assert.ok(!all.includes(t), 'no token in Redis');
    assert.ok(!all.includes(MAC_KEY), 'no MAC key in Redis');
    assert.equal((await finished(r.json.id)).state, 'completed');
    const s = await A('GET', `/v1/bundles/${r.json.id}`);
    assert.equal(s.json.principal, 'team-a');
  });

  it("B can neither see nor cancel nor retry A's jobs (404, as if absent); OPS can see and cancel them", async () => {
    // the queue paused, so the job waits and Redis is still while B tries
    await queue.pause();
    after(() => queue.resume());
    const r = await A('POST', '/v1/bundles', spec({ name: 'team-a-private' }), {});
    assert.equal(r.status, 202, r.text);
    const id = r.json.id as string;
    await new Promise((res) => setTimeout(res, 300));
    await redisUnchanged(async () => {
      for (const [method, path] of [
        ['GET', `/v1/bundles/${id}`],
        ['DELETE', `/v1/bundles/${id}`],
        ['POST', `/v1/bundles/${id}/retry`],
      ] as const) {
        const res = await B(method, path);
        assert.equal(res.status, 404, `${method} ${path}: ${res.text}`);
        assert.equal(res.json.error, 'BF_JOB_NOT_FOUND');
      }
    });
    assert.equal((await A('GET', `/v1/bundles/${id}`)).status, 200);
    assert.equal((await OPS('GET', `/v1/bundles/${id}`)).status, 200);
    const cancelled = await OPS('DELETE', `/v1/bundles/${id}`);
    assert.equal(cancelled.status, 200, cancelled.text);
    assert.deepEqual(cancelled.json, { id, outcome: 'removed', previousState: 'waiting' });
    await queue.resume();
  });

  it('lists only the jobs a principal may see, newest first, a page at a time; a job whose data is not a job is 422 to those who may see it', async () => {
    await queue.pause();
    after(() => queue.resume());
    const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));
    const mine: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await A('POST', '/v1/bundles', spec({ name: `list-a-${i}` }));
      assert.equal(r.status, 202, r.text);
      mine.push(r.json.id);
      await sleep(5); // distinct enqueue times: "newest first" is then one order
    }
    const theirs = await B('POST', '/v1/bundles', spec({ name: 'list-b', image: 'team-b/os.img', regions: [{ region: 'us-east-1', bucket: 'amis', prefix: 'team-b/' }] }));
    assert.equal(theirs.status, 202, theirs.text);
    // written by hand into Redis: a spec that is not one, for team-a; and data that is not even an object, for nobody
    const handMade = `hand-made-${randomUUID()}`;
    await queue.add('hand-made', { spec: { image: 42, regions: 'everywhere' }, source: 'api', principal: 'team-a' } as unknown as BundleJobData, { jobId: handMade });
    const garbage = `garbage-${randomUUID()}`;
    await queue.add('garbage', 'not a job' as unknown as BundleJobData, { jobId: garbage });

    const waitingOf = async (who: typeof A, query = 'state=waiting&limit=100') => {
      const r = await who('GET', `/v1/bundles?${query}`);
      assert.equal(r.status, 200, r.text);
      return r.json as { jobs: Array<{ id: string; state: string; principal?: string; name: string; regions: string[]; error: { code: string; message: string } | null }>; nextCursor: string | null };
    };
    const a = await waitingOf(A);
    assert.deepEqual(a.jobs.map((j) => j.id), [handMade, ...[...mine].reverse()], 'A sees its own, newest first, and nothing of B');
    assert.equal(a.nextCursor, null);
    assert.deepEqual(a.jobs[1], { ...a.jobs[1], name: 'list-a-2', state: 'waiting', principal: 'team-a', regions: ['us-east-1'], error: null });
    assert.equal(a.jobs[0]!.error?.code, 'BF_JOB_DATA_INVALID');
    const b = await waitingOf(B);
    assert.deepEqual(b.jobs.map((j) => j.id), [theirs.json.id]);
    const ops = await waitingOf(OPS);
    assert.deepEqual(ops.jobs.map((j) => j.id), [garbage, handMade, theirs.json.id, ...[...mine].reverse()], 'OPS sees every job');

    // a page at a time: the same jobs, in the same order
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await waitingOf(OPS, `state=waiting&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      assert.ok(page.jobs.length <= 2);
      paged.push(...page.jobs.map((j) => j.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    assert.deepEqual(paged, ops.jobs.map((j) => j.id));
    assert.deepEqual((await waitingOf(A, 'state=completed,failed,cancelled&limit=100')).jobs.filter((j) => mine.includes(j.id)), [], 'filtered by state');

    for (const [query, code, pattern] of [
      ['state=bogus', 'BF_BAD_REQUEST', /state: unknown state "bogus"/],
      ['limit=0', 'BF_BAD_REQUEST', /limit/],
      ['limit=1000', 'BF_BAD_REQUEST', /limit/],
      ['colour=blue', 'BF_BAD_REQUEST', /colour/],
      ['cursor=not-a-cursor', 'BF_BAD_CURSOR', /nextCursor of the previous page/],
    ] as const) {
      const r = await A('GET', `/v1/bundles?${query}`);
      assert.equal(r.status, 400, `${query}: ${r.text}`);
      assert.equal(r.json.error, code, query);
      assert.match(r.json.message, pattern);
    }

    // the hand-made jobs: 422 with a typed code to whoever may see them, 404 to the others, never a 500
    for (const [who, id, status, pattern] of [
      [A, handMade, 422, /^bundle job "hand-made-.*" cannot be read: its job spec is not valid: spec\.image: .*\(and \d+ more\)/],
      [OPS, handMade, 422, /cannot be read/],
      [B, handMade, 404, /does not exist/],
      [A, garbage, 404, /does not exist/],
      [OPS, garbage, 422, /cannot be read: its data is not an object/],
    ] as const) {
      const r = await who('GET', `/v1/bundles/${id}`);
      assert.equal(r.status, status, r.text);
      assert.equal(r.json.error, status === 422 ? 'BF_JOB_DATA_INVALID' : 'BF_JOB_NOT_FOUND');
      assert.match(r.json.message, pattern);
    }
    const retried = await A('POST', `/v1/bundles/${handMade}/retry`);
    assert.equal(retried.status, 422, retried.text);
    assert.equal(retried.json.error, 'BF_JOB_DATA_INVALID');
    // they can be cleared away like any waiting job
    for (const id of [handMade, garbage, theirs.json.id, ...mine]) assert.equal((await OPS('DELETE', `/v1/bundles/${id}`)).status, 200, id);
    await queue.resume();
  });

  it("B cannot take over A's Idempotency-Key, nor tell it was used (keys are per principal); nobody may claim github-/gitlab- job ids", async () => {
    const key = `shared-${randomUUID()}`;
    const mine = await A('POST', '/v1/bundles', spec({ name: 'idem-a' }), { 'idempotency-key': key });
    assert.equal(mine.status, 202, mine.text);
    assert.equal(mine.json.id, `p6-team-a-${key}`);
    const bSpec = spec({ name: 'idem-a', image: 'team-b/os.img', regions: [{ region: 'us-east-1', bucket: 'amis', prefix: 'team-b/' }] });
    // B's answer for A's key is the answer for a key nobody used: a job of its own
    const theirs = await B('POST', '/v1/bundles', bSpec, { 'idempotency-key': key });
    const unused = await B('POST', '/v1/bundles', { ...bSpec, name: 'idem-b' }, { 'idempotency-key': `unused-${randomUUID()}` });
    assert.equal(theirs.status, 202, theirs.text);
    assert.equal(unused.status, 202, unused.text);
    assert.equal(theirs.json.id, `p6-team-b-${key}`);
    assert.equal((await queue.getJob(`p6-team-a-${key}`))?.data.principal, 'team-a', "A's job is untouched");
    assert.equal((await queue.getJob(theirs.json.id))?.data.principal, 'team-b');
    // and B cannot name A's job by its id either
    assert.equal((await B('GET', `/v1/bundles/${mine.json.id}`)).status, 404);
    for (const reserved of [`github-${randomUUID()}`, `GitLab-${randomUUID()}`]) {
      const r = await A('POST', '/v1/bundles', spec(), { 'idempotency-key': reserved });
      assert.equal(r.status, 400, r.text);
      assert.match(r.json.message, /webhook deliveries/);
    }
  });
});

describe('scoped principals: the worker trusts no job for being in Redis', { timeout: 120_000 }, () => {
  /** Adds a job as anyone who can write to Redis would, and waits for its end; asserts S3 saw nothing meanwhile. */
  async function inject(data: Partial<BundleJobData>): Promise<{ state: string; failedReason?: string; s3Requests: number }> {
    await until('the queue to be idle', async () => {
      const c = await queue.getJobCounts('active', 'waiting', 'delayed');
      return (c.active ?? 0) + (c.waiting ?? 0) + (c.delayed ?? 0) === 0 || undefined;
    });
    const before = proxy.requests.length;
    const id = `forged-${randomUUID()}`;
    await queue.add('forged', data as BundleJobData, { jobId: id, attempts: 3 });
    const end = await finished(id);
    return { ...end, s3Requests: proxy.requests.length - before };
  }

  const validated = (over: Record<string, unknown>) => {
    const v = validateJobSpec(spec(over));
    assert.ok(v.ok);
    return v.spec;
  };

  it('refuses an out-of-scope job without a MAC before any S3 request', async () => {
    const forged = validated({ identity: 'release', image: 's3://images/team-b/secret.img', regions: [{ region: 'us-east-1', bucket: 'amis', prefix: 'team-b/' }] });
    const r = await inject({ spec: forged, source: 'github', delivery: 'forged-delivery', principal: 'team-a' });
    assert.equal(r.state, 'failed');
    assert.match(r.failedReason ?? '', /^BF_JOB_UNAUTHORIZED: .*carries no MAC/);
    assert.equal(r.s3Requests, 0, 'no S3 request');
  });

  it('refuses a job whose MAC is right but whose spec is outside its principal (the worker checks the scope itself)', async () => {
    const forged = validated({ identity: 'release', regions: [{ region: 'us-east-1', bucket: 'amis', prefix: 'team-b/' }] });
    const id = `forged-${randomUUID()}`;
    await until('the queue to be idle', async () => {
      const c = await queue.getJobCounts('active', 'waiting', 'delayed');
      return (c.active ?? 0) + (c.waiting ?? 0) + (c.delayed ?? 0) === 0 || undefined;
    });
    const before = proxy.requests.length;
    const data = { spec: forged, source: 'api', principal: 'team-a', issuedAt: Date.now() };
    await queue.add('forged', { ...data, mac: jobMac(Buffer.from(MAC_KEY), { id, ...data }) }, { jobId: id, attempts: 3 });
    const end = await finished(id);
    assert.equal(end.state, 'failed');
    assert.match(end.failedReason ?? '', /^BF_OUT_OF_SCOPE: .*team-a.*identity/);
    assert.equal(proxy.requests.length - before, 0, 'no S3 request');
    const job = await queue.getJob(id);
    assert.equal(job?.attemptsMade, 1, 'failed for good at the first attempt');
  });

  it('refuses a job with a MAC that names no principal, or whose data was edited after the MAC', async () => {
    const inScope = validated({});
    const id = `forged-${randomUUID()}`;
    const data = { spec: inScope, source: 'api', issuedAt: Date.now() };
    const noPrincipal = await (async () => {
      await queue.add('forged', { ...data, mac: jobMac(Buffer.from(MAC_KEY), { id, ...data }) }, { jobId: id, attempts: 3 });
      return finished(id);
    })();
    assert.match(noPrincipal.failedReason ?? '', /^BF_JOB_UNAUTHORIZED: .*names no principal/);
    // a genuine job's MAC on an edited spec (what Bull Board's edit would do)
    const good = { spec: inScope, source: 'api', principal: 'team-a', issuedAt: Date.now() };
    const id2 = `forged-${randomUUID()}`;
    const mac = jobMac(Buffer.from(MAC_KEY), { id: id2, ...good });
    const r = await inject({ ...good, spec: validated({ regions: [{ region: 'us-east-1', bucket: 'amis', prefix: 'team-a/other/' }] }), mac });
    assert.match(r.failedReason ?? '', /^BF_JOB_UNAUTHORIZED: .*MAC does not match/);
    assert.equal(r.s3Requests, 0);
  });

  it('runs an injected job that carries a valid MAC and stays in scope (the refusals above are about trust, not injection)', async () => {
    const id = `genuine-${randomUUID()}`;
    const data = { spec: validated({ name: 'injected-ok' }), source: 'api', principal: 'team-a', issuedAt: Date.now() };
    const before = proxy.requests.length;
    await queue.add('genuine', { ...data, mac: jobMac(Buffer.from(MAC_KEY), { id, ...data }) }, { jobId: id });
    assert.equal((await finished(id)).state, 'completed');
    assert.ok(proxy.requests.length > before, 'this one did reach S3');
  });
});
