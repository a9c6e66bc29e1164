import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { buildServer, githubSignature } from '@bundlefarm/server';
import { REPO } from '../helpers/fixtures.js';
import { run } from '../helpers/run.js';
import {
  ACCOUNT,
  BODY_LIMIT,
  GITHUB_SECRET,
  GITLAB_TOKEN,
  OTHER_TOKEN,
  PREFIX,
  TOKEN,
  serviceEnvironment,
  specFor,
  type ServiceEnvironment,
} from './service-environment.js';

/**
 * The API without workers: authentication, validation (every problem named), limits, enqueue-time
 * image checks, idempotency, webhooks (signatures, redeliveries, replays, rules), probes, metrics and
 * OpenAPI. Every refusal is checked to leave the queue as it was.
 */

const TEN_GIB = 10 * 1024 * 1024 * 1024;

function problemsOf(json: { problems?: Array<{ path: string; message: string }> }): Map<string, string> {
  return new Map((json.problems ?? []).map((p) => [p.path, p.message]));
}

function pushPayload(ref: string, sha = 'c0ffee0123456789abcdef0123456789abcdef01', repo = 'acme/os'): string {
  return JSON.stringify({
    ref,
    before: '0000000000000000000000000000000000000000',
    after: sha,
    deleted: false,
    pusher: { name: 'ci', email: 'ci@example.com' },
    repository: { full_name: repo, name: repo.split('/')[1], owner: { login: repo.split('/')[0] } },
    head_commit: { id: sha, message: 'release' },
  });
}

/** A completed workflow_run as GitHub sends it; `head` is the repository the run's commit comes from. */
function workflowRun(head: string, over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    action: 'completed',
    workflow_run: {
      name: 'build-image',
      head_branch: 'main',
      head_sha: 'beef0000123456789abcdef0123456789abcdef0',
      event: head === 'acme/os' ? 'push' : 'pull_request',
      conclusion: 'success',
      head_repository: { full_name: head, fork: head !== 'acme/os' },
      ...over,
    },
    workflow: { name: 'build-image' },
    repository: { full_name: 'acme/os', name: 'os', owner: { login: 'acme' } },
  });
}

async function github(env: ServiceEnvironment, event: string, body: string, options: { delivery?: string; signature?: string; contentType?: string } = {}) {
  const res = await fetch(`${env.url}/v1/hooks/github`, {
    method: 'POST',
    headers: {
      'content-type': options.contentType ?? 'application/json',
      'x-github-event': event,
      'x-github-delivery': options.delivery ?? randomUUID(),
      ...(options.signature !== '' ? { 'x-hub-signature-256': options.signature ?? githubSignature(body, GITHUB_SECRET) } : {}),
    },
    body,
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as any };
}

const env: ServiceEnvironment = await serviceEnvironment();

describe('bundlefarm API (no workers)', () => {
  const targets = [{ region: 'us-east-1', bucket: 'amis-use1' }];

  /** Runs `fn` and asserts the queue holds exactly as many jobs afterwards. */
  async function unchanged(fn: () => Promise<void>): Promise<void> {
    const before = await env.counts();
    await fn();
    assert.deepEqual(await env.counts(), before, 'queue counts changed');
  }

  it('refuses requests without a valid bearer token (401) and enqueues nothing', async () => {
    await unchanged(async () => {
      const spec = specFor(targets);
      const none = await env.api('POST', '/v1/bundles', spec, { authorization: '' });
      assert.equal(none.status, 401);
      assert.equal(none.json.error, 'BF_UNAUTHORIZED');
      assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
      const wrong = await env.api('POST', '/v1/bundles', spec, { authorization: `Bearer ${TOKEN}x` });
      assert.equal(wrong.status, 401);
      const prefix = await env.api('POST', '/v1/bundles', spec, { authorization: `Bearer ${TOKEN.slice(0, -1)}` });
      assert.equal(prefix.status, 401);
      const basic = await env.api('POST', '/v1/bundles', spec, { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` });
      assert.equal(basic.status, 401);
      for (const path of ['/v1/bundles/x', '/v1/queue']) assert.equal((await env.api('GET', path, undefined, { authorization: '' })).status, 401);
      assert.equal((await env.api('DELETE', '/v1/bundles/x', undefined, { authorization: '' })).status, 401);
      // no token, and a body over the limit: refused for the token, before the body is read
      const big = await env.api('POST', '/v1/bundles', { pad: 'x'.repeat(BODY_LIMIT * 2) }, { authorization: '' });
      assert.equal(big.status, 401);
    });
  });

  it('accepts every configured token, enqueues (202 + Location) and reports the job', async () => {
    const r = await env.api('POST', '/v1/bundles', specFor(targets, { name: 'first-job' }), { authorization: `Bearer ${OTHER_TOKEN}` });
    assert.equal(r.status, 202, JSON.stringify(r.json));
    assert.equal(r.json.created, true);
    assert.equal(r.json.name, 'first-job');
    assert.equal(r.json.statusUrl, `/v1/bundles/${r.json.id}`);
    assert.equal(r.headers.get('location'), r.json.statusUrl);
    const job = await env.queue.getJob(r.json.id);
    assert.ok(job, 'the job is in the queue');
    assert.equal(job.name, 'first-job');
    assert.equal(job.data.source, 'api');
    assert.deepEqual(job.data.spec.regions, [{ region: 'us-east-1', bucket: 'amis-use1', prefix: '' }]);

    const s = await env.api('GET', r.json.statusUrl);
    assert.equal(s.status, 200);
    assert.equal(s.json.id, r.json.id);
    assert.equal(s.json.state, 'waiting');
    assert.equal(s.json.finished, false);
    assert.equal(s.json.progress, null);
    assert.equal(s.json.attempts.max, 2);
    assert.deepEqual(s.json.regions, [{ region: 'us-east-1', bucket: 'amis-use1', prefix: '', stage: 'pending', partsDone: 0 }]);
  });

  it('names every problem of a bad spec (400 BF_BAD_SPEC) and enqueues nothing', async () => {
    await unchanged(async () => {
      const r = await env.api('POST', '/v1/bundles', {
        name: 'my image!',
        image: 'os-60m.img',
        architecture: 'arm64',
        accountId: '1234',
        identity: 'release',
        regions: [
          { region: 'mars-north-1', bucket: 'amis' },
          { region: 'us-east-1', bucket: 'amis/images/2024' },
          { region: 'eu-west-1', bucket: 'Amis_EU', prefix: '/abs', color: 'blue' },
        ],
        compression: 'max',
        level: 12,
      });
      assert.equal(r.status, 400);
      assert.equal(r.json.error, 'BF_BAD_SPEC');
      const p = problemsOf(r.json);
      for (const path of ['name', 'architecture', 'accountId', 'regions.0.region', 'regions.1.bucket', 'regions.2.bucket', 'regions.2.prefix', 'regions.2', 'level', '(body)']) {
        assert.ok(p.has(path), `a problem at ${path}; got ${JSON.stringify(r.json.problems)}`);
      }
      assert.match(p.get('regions.0.region')!, /unknown region "mars-north-1"/);
      assert.match(p.get('regions.2')!, /color/);
      assert.match(p.get('(body)')!, /compression/);
    });
  });

  it('refuses at enqueue what the worker would refuse: prefixes by bytes and segments, s3:// keys by the same rules', async () => {
    await unchanged(async () => {
      const r = await env.api('POST', '/v1/bundles', {
        ...specFor([
          { region: 'us-east-1', bucket: 'amis', prefix: 'é'.repeat(460) },
          { region: 'eu-west-1', bucket: 'amis', prefix: 'a//b/' },
          { region: 'us-west-2', bucket: 'amis', prefix: 'os/\u202egpj.exe/' },
        ]),
        image: 's3://images/../other-team/x.img',
        name: 'x',
      });
      assert.equal(r.status, 400);
      assert.equal(r.json.error, 'BF_BAD_SPEC');
      const p = problemsOf(r.json);
      assert.match(p.get('regions.0.prefix') ?? '', /longer than 900 bytes/);
      assert.match(p.get('regions.1.prefix') ?? '', /empty segment/);
      assert.match(p.get('regions.2.prefix') ?? '', /invisible format characters/);
      assert.match(p.get('image') ?? '', /\.\. segment/);
    });
  });

  it('refuses images outside the image root, by path or through a symlink (400)', async () => {
    await mkdir(join(env.dir, 'outside'), { recursive: true });
    await writeFile(join(env.dir, 'outside', 'secret.img'), 'not yours');
    await symlink(join(env.dir, 'outside', 'secret.img'), join(env.imageRoot, 'escape.img'));
    await unchanged(async () => {
      for (const image of ['../outside/secret.img', '/etc/passwd', 'a/../../outside/secret.img', 'file:///etc/passwd']) {
        const r = await env.api('POST', '/v1/bundles', specFor(targets, { image, name: 'x' }));
        assert.equal(r.status, 400, image);
        assert.equal(r.json.error, 'BF_BAD_SPEC', image);
        assert.ok(problemsOf(r.json).has('image'), image);
      }
      // a symlink out of the root answers as a missing file would: no existence oracle outside the root
      const link = await env.api('POST', '/v1/bundles', specFor(targets, { image: 'escape.img' }));
      assert.equal(link.status, 400);
      assert.equal(link.json.error, 'BF_FILE_UNREADABLE');
      assert.equal(link.json.message, 'cannot read escape.img: ENOENT (no such file or directory)');
    });
  });

  it('refuses images over 10 GiB, empty or missing when their size is knowable (local and S3)', async () => {
    await writeFile(join(env.imageRoot, 'huge.img'), '');
    await truncate(join(env.imageRoot, 'huge.img'), TEN_GIB + 1);
    await writeFile(join(env.imageRoot, 'empty.img'), '');
    await writeFile(join(env.imageRoot, 'exactly-10g.img'), '');
    await truncate(join(env.imageRoot, 'exactly-10g.img'), TEN_GIB);
    await env.s3.createBucket('image-store');
    await env.client.send(new PutObjectCommand({ Bucket: 'image-store', Key: 'small.img', Body: Buffer.alloc(4096, 1) }));
    await unchanged(async () => {
      const huge = await env.api('POST', '/v1/bundles', specFor(targets, { image: 'huge.img' }));
      assert.equal(huge.status, 400);
      assert.equal(huge.json.error, 'BF_IMAGE_TOO_LARGE');
      assert.equal(huge.json.details.size, TEN_GIB + 1);
      const empty = await env.api('POST', '/v1/bundles', specFor(targets, { image: 'empty.img' }));
      assert.equal(empty.json.error, 'BF_IMAGE_EMPTY');
      const missing = await env.api('POST', '/v1/bundles', specFor(targets, { image: 'nope.img' }));
      assert.equal(missing.status, 400);
      assert.equal(missing.json.error, 'BF_FILE_UNREADABLE');
      const dir = await env.api('POST', '/v1/bundles', specFor(targets, { image: 'sub', name: 'sub' }));
      await mkdir(join(env.imageRoot, 'sub2'));
      const dir2 = await env.api('POST', '/v1/bundles', specFor(targets, { image: 'sub2', name: 'sub2' }));
      assert.equal(dir.json.error, 'BF_FILE_UNREADABLE');
      assert.equal(dir2.json.error, 'BF_FILE_UNREADABLE');

      // S3: HeadObject through the API's S3 endpoint, faked to report 10 GiB + 1
      env.apiS3Proxy.addFault({
        match: (r) => r.method === 'HEAD' && r.path === '/image-store/huge.img',
        action: { type: 'respond', status: 200, headers: { 'content-length': String(TEN_GIB + 1), etag: '"x"' } },
      });
      const s3huge = await env.api('POST', '/v1/bundles', specFor(targets, { image: 's3://image-store/huge.img' }));
      assert.equal(s3huge.status, 400, JSON.stringify(s3huge.json));
      assert.equal(s3huge.json.error, 'BF_IMAGE_TOO_LARGE');
      const s3missing = await env.api('POST', '/v1/bundles', specFor(targets, { image: 's3://image-store/missing.img' }));
      assert.equal(s3missing.status, 400);
      assert.equal(s3missing.json.error, 'BF_S3_OBJECT_NOT_FOUND');
      // a name that cannot be derived from the image's file name is named too
      const badName = await env.api('POST', '/v1/bundles', specFor(targets, { image: 's3://image-store/my image.img' }));
      assert.equal(badName.status, 400);
      assert.match(problemsOf(badName.json).get('name') ?? '', /not a usable bundle name/);
    });
    // what is knowable and fine goes through; 10 GiB exactly is allowed
    const ok = await env.api('POST', '/v1/bundles', specFor(targets, { image: 's3://image-store/small.img' }));
    assert.equal(ok.status, 202, JSON.stringify(ok.json));
    const limit = await env.api('POST', '/v1/bundles', specFor(targets, { image: 'exactly-10g.img' }));
    assert.equal(limit.status, 202, JSON.stringify(limit.json));
    // a store that fails cannot tell: the job goes through (the worker checks again)
    env.apiS3Proxy.addFault({ match: (r) => r.method === 'HEAD' && r.path === '/image-store/flaky.img', action: { type: 'status', status: 503 } });
    const flaky = await env.api('POST', '/v1/bundles', specFor(targets, { image: 's3://image-store/flaky.img' }));
    assert.equal(flaky.status, 202, JSON.stringify(flaky.json));
    assert.ok(env.apiS3Proxy.requests.some((r) => r.method === 'HEAD' && r.path === '/image-store/flaky.img'));
  });

  it('limits the body (413), wants JSON (415) that parses (400)', async () => {
    await unchanged(async () => {
      const big = await env.api('POST', '/v1/bundles', specFor(targets, { name: 'x'.repeat(BODY_LIMIT + 10) }));
      assert.equal(big.status, 413);
      assert.equal(big.json.error, 'BF_BODY_TOO_LARGE');
      const text = await env.api('POST', '/v1/bundles', 'image=x', { 'content-type': 'text/plain' });
      assert.equal(text.status, 415);
      assert.equal(text.json.error, 'BF_UNSUPPORTED_MEDIA_TYPE');
      const form = await env.api('POST', '/v1/bundles', 'image=x', { 'content-type': 'application/x-www-form-urlencoded' });
      assert.equal(form.status, 415);
      const broken = await env.api('POST', '/v1/bundles', '{"image": ', { 'content-type': 'application/json' });
      assert.equal(broken.status, 400);
      assert.equal(broken.json.error, 'BF_BAD_JSON');
      const proto = await env.api('POST', '/v1/bundles', '{"__proto__": {"x": 1}}', { 'content-type': 'application/json' });
      assert.equal(proto.status, 400);
      const array = await env.api('POST', '/v1/bundles', [specFor(targets)]);
      assert.equal(array.status, 400);
      assert.equal(array.json.error, 'BF_BAD_SPEC');
    });
  });

  it("makes the job id from the Idempotency-Key and the principal: a repeat returns the same job, another spec is a conflict", async () => {
    const key = `build-${randomUUID()}`;
    // the legacy token's principal is api-tokens (10 characters)
    const id = `p10-api-tokens-${key}`;
    const spec = specFor(targets, { name: 'idem' });
    const first = await env.api('POST', '/v1/bundles', spec, { 'idempotency-key': key });
    assert.equal(first.status, 202);
    assert.equal(first.json.id, id);
    const before = await env.jobCount();
    const again = await env.api('POST', '/v1/bundles', spec, { 'idempotency-key': key });
    assert.equal(again.status, 200);
    assert.equal(again.json.id, id);
    assert.equal(again.json.created, false);
    const other = await env.api('POST', '/v1/bundles', specFor(targets, { name: 'other' }), { 'idempotency-key': key });
    assert.equal(other.status, 409);
    assert.equal(other.json.error, 'BF_IDEMPOTENCY_CONFLICT');
    for (const bad of ['12345', 'has:colon', 'x'.repeat(201), 'x'.repeat(200 - 'p10-api-tokens-'.length + 1), '-lead']) {
      const r = await env.api('POST', '/v1/bundles', spec, { 'idempotency-key': bad });
      assert.equal(r.status, 400, bad);
      assert.equal(r.json.error, 'BF_BAD_REQUEST');
    }
    assert.equal(await env.jobCount(), before);
    // cancelled while waiting: removed, and the key still names it (no second job)
    const cancel = await env.api('DELETE', `/v1/bundles/${id}`);
    assert.equal(cancel.status, 200);
    assert.deepEqual(cancel.json, { id, outcome: 'removed', previousState: 'waiting' });
    assert.equal((await env.api('GET', `/v1/bundles/${id}`)).status, 404);
    const afterCancel = await env.api('POST', '/v1/bundles', spec, { 'idempotency-key': key });
    assert.equal(afterCancel.status, 200);
    assert.equal(await env.jobCount(), before - 1);
  });

  it('answers 404 for unknown jobs and 409 for operations that do not fit the state', async () => {
    const missing = await env.api('GET', '/v1/bundles/no-such-job');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error, 'BF_JOB_NOT_FOUND');
    assert.equal((await env.api('DELETE', '/v1/bundles/no-such-job')).status, 404);
    assert.equal((await env.api('POST', '/v1/bundles/no-such-job/retry')).status, 404);
    const r = await env.api('POST', '/v1/bundles', specFor(targets, { name: 'waiting-one' }));
    const retry = await env.api('POST', `/v1/bundles/${r.json.id}/retry`);
    assert.equal(retry.status, 409);
    assert.equal(retry.json.error, 'BF_JOB_STATE_CONFLICT');
    const route = await env.api('GET', '/v2/nothing');
    assert.equal(route.status, 404);
    assert.equal(route.json.error, 'BF_NOT_FOUND');
  });

  it('GitHub: enqueues a matching push once per delivery; redeliveries and replays return the same job', async () => {
    const body = pushPayload('refs/tags/v1.2.3');
    const delivery = randomUUID();
    const first = await github(env, 'push', body, { delivery });
    assert.equal(first.status, 202, JSON.stringify(first.json));
    assert.equal(first.json.id, `github-${delivery}`);
    assert.equal(first.json.rule, 'github-tags');
    assert.equal(first.json.name, 'os-v1.2.3');
    const job = await env.queue.getJob(first.json.id);
    assert.ok(job);
    assert.equal(job.data.source, 'github');
    assert.equal(job.data.delivery, delivery);
    assert.deepEqual(job.data.spec.regions, [{ region: 'us-east-1', bucket: 'hook-bucket', prefix: 'os/c0ffee0/' }]);

    await unchanged(async () => {
      const again = await github(env, 'push', body, { delivery });
      assert.equal(again.status, 200);
      assert.equal(again.json.id, first.json.id);
      assert.equal(again.json.created, false);
      // the same signed body under another delivery id: a replay, not a new event
      const replay = await github(env, 'push', body, { delivery: randomUUID() });
      assert.equal(replay.status, 200);
      assert.equal(replay.json.id, first.json.id);
    });
  });

  it('GitHub: refuses bad, off-by-one-byte and missing signatures (401) and enqueues nothing', async () => {
    const body = pushPayload('refs/tags/v9.9.9', 'aaaaaaa0123456789abcdef0123456789abcdef0');
    const good = githubSignature(body, GITHUB_SECRET);
    const lastHex = good.at(-1) === '0' ? '1' : '0';
    const tampered = body.replace('v9.9.9', 'v9.9.8');
    await unchanged(async () => {
      const cases: Array<[string, string, string]> = [
        ['wrong secret', body, githubSignature(body, 'not-the-secret-at-all')],
        ['signature off by one hex digit', body, good.slice(0, -1) + lastHex],
        ['body off by one byte', tampered, good],
        ['sha1 form', body, `sha1=${'0'.repeat(40)}`],
        ['truncated', body, good.slice(0, -2)],
        ['missing', body, ''],
      ];
      for (const [label, b, signature] of cases) {
        const r = await github(env, 'push', b, { signature });
        assert.equal(r.status, 401, label);
        assert.equal(r.json.error, 'BF_UNAUTHORIZED', label);
        // each says what is wrong: a missing header is not a signature that "does not match"
        const expected =
          label === 'missing'
            ? "not authenticated: X-Hub-Signature-256 is missing: set the webhook's secret in GitHub so that it signs its deliveries"
            : label === 'sha1 form' || label === 'truncated'
              ? 'not authenticated: X-Hub-Signature-256 is not sha256=<64 hex digits>'
              : 'not authenticated: X-Hub-Signature-256 does not match the body';
        assert.equal(r.json.message, expected, label);
      }
    });
  });

  it('GitHub: acknowledges what no rule matches (202 ignored), pings, ref deletions; a rule that cannot render is 422', async () => {
    await unchanged(async () => {
      const branch = await github(env, 'push', pushPayload('refs/heads/feature/x'));
      assert.equal(branch.status, 202);
      assert.equal(branch.json.ignored, true);
      const otherRepo = await github(env, 'push', pushPayload('refs/tags/v1.0.0', undefined, 'evil/os'));
      assert.equal(otherRepo.json.ignored, true);
      const deleted = JSON.stringify({ ...JSON.parse(pushPayload('refs/tags/v2.0.0')), deleted: true, after: '0'.repeat(40) });
      const del = await github(env, 'push', deleted);
      assert.equal(del.status, 202);
      assert.equal(del.json.ignored, true);
      const ping = await github(env, 'ping', JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 }));
      assert.equal(ping.status, 200);
      assert.equal(ping.json.ignored, true);
      const broken = await github(env, 'push', pushPayload('refs/heads/broken/x'));
      assert.equal(broken.status, 422);
      assert.equal(broken.json.error, 'BF_RULE_SPEC_INVALID');
      assert.match(broken.json.problems[0].message, /\{\{tag\}\} has no value/);
      const notJson = await github(env, 'push', 'not json');
      assert.equal(notJson.status, 400);
      const noDelivery = await fetch(`${env.url}/v1/hooks/github`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': githubSignature('{}', GITHUB_SECRET) },
        body: '{}',
      });
      assert.equal(noDelivery.status, 400);
    });
  });

  it("GitHub: the docs' curl + openssl example is accepted", async () => {
    const doc = await readFile(join(REPO, 'docs', 'service.md'), 'utf8');
    const block = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('X-Hub-Signature-256'));
    assert.ok(block, 'the example is in docs/service.md');
    const script = block.trimEnd().replaceAll('http://localhost:8080', env.url) + ' -w "\\n%{http_code}\\n"';
    const r = await run('bash', ['-euo', 'pipefail', '-c', script], { env: { ...process.env, GITHUB_SECRET } });
    assert.equal(r.code, 0, r.stderr);
    const [body, status] = r.stdout.trim().split('\n');
    assert.equal(status, '202', r.stdout);
    assert.equal(JSON.parse(body!).rule, 'github-tags');
  });

  it('GitHub: workflow_run and form-encoded payloads', async () => {
    const run = workflowRun('acme/os');
    const r = await github(env, 'workflow_run', run);
    assert.equal(r.status, 202, JSON.stringify(r.json));
    assert.equal(r.json.name, 'os-main-beef000');
    const failed = workflowRun('acme/os', { conclusion: 'failure' });
    assert.equal((await github(env, 'workflow_run', failed)).json.ignored, true);
    const form = `payload=${encodeURIComponent(pushPayload('refs/tags/v3.0.0', 'ffff000123456789abcdef0123456789abcdef01'))}`;
    const f = await github(env, 'push', form, { contentType: 'application/x-www-form-urlencoded' });
    assert.equal(f.status, 202, JSON.stringify(f.json));
    assert.equal(f.json.name, 'os-v3.0.0');
  });

  it("GitHub: a signed workflow_run from a fork whose branch is main does not match the shipped github-main-builds rule", async () => {
    // an API with the rules file exactly as shipped
    const app = await buildServer(
      { apiTokens: [TOKEN], githubWebhookSecrets: [GITHUB_SECRET], webhookRulesFile: join(REPO, 'docs', 'webhook-rules.example.json'), redisUrl: env.redis.url, queuePrefix: PREFIX },
      { logger: false },
    );
    try {
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      const send = (body: string) => github({ ...env, url }, 'workflow_run', body);
      await unchanged(async () => {
        const fork = await send(workflowRun('mallory/os', { head_sha: 'f0f0f0f0123456789abcdef0123456789abcdef0' }));
        assert.equal(fork.status, 202, JSON.stringify(fork.json));
        assert.equal(fork.json.ignored, true);
        assert.match(fork.json.reason, /fork.*mallory\/os/);
      });
      // the same run from the repository itself is what the rule is for
      const own = await send(workflowRun('acme/os', { head_sha: 'a0a0a0a0123456789abcdef0123456789abcdef0' }));
      assert.equal(own.status, 202, JSON.stringify(own.json));
      assert.equal(own.json.rule, 'github-main-builds');
    } finally {
      await app.close();
    }
  });

  it('GitHub: a signed body replayed under another X-GitHub-Event enqueues nothing; ignored bodies stay ignored', async () => {
    // a tag deletion, pushed: ignored. The same signed bytes as a `create` (where a tag rule matches) must not make a job.
    const deletion = JSON.stringify({ ...JSON.parse(pushPayload('refs/tags/v9.9.9')), deleted: true, after: '0'.repeat(40) });
    await unchanged(async () => {
      const first = await github(env, 'push', deletion);
      assert.equal(first.status, 202);
      assert.equal(first.json.ignored, true);
      for (const event of ['create', 'release', 'workflow_run', 'foo']) {
        const replay = await github(env, event, deletion);
        assert.equal(replay.status, 409, `${event}: ${JSON.stringify(replay.json)}`);
        assert.equal(replay.json.error, 'BF_WEBHOOK_REPLAYED');
      }
      // ignored once, ignored again under a new delivery id
      const again = await github(env, 'push', deletion);
      assert.equal(again.status, 202);
      assert.match(again.json.reason, /received before/);
      // a body that never was a `create` is refused as one at first sight too (its shape tells)
      const fresh = pushPayload('refs/tags/v9.9.8', 'abababab23456789abcdef0123456789abcdef01');
      const asCreate = await github(env, 'create', fresh);
      assert.equal(asCreate.status, 400, JSON.stringify(asCreate.json));
      assert.match(asCreate.json.message, /does not fit the body/);
      // and what was refused stays refused, also under its true event
      const asPush = await github(env, 'push', fresh);
      assert.equal(asPush.status, 409);
      // a delivery id cannot be reused for another body
      const delivery = randomUUID();
      assert.equal((await github(env, 'push', pushPayload('refs/heads/feature/a'), { delivery })).status, 202);
      assert.equal((await github(env, 'push', pushPayload('refs/heads/feature/b'), { delivery })).status, 409);
    });
  });

  it('GitHub: requests without a well-formed signature, event or delivery are refused before the body is read', async () => {
    const big = 'x'.repeat(64 * 1024);
    for (const [headers, status] of [
      [{ 'x-github-event': 'push', 'x-github-delivery': 'd' }, 401],
      [{ 'x-hub-signature-256': 'sha256=' + '0'.repeat(64), 'x-github-delivery': 'd' }, 400],
      [{ 'x-hub-signature-256': 'sha256=' + '0'.repeat(64), 'x-github-event': 'push' }, 400],
      [{ 'x-hub-signature-256': 'sha1=' + '0'.repeat(40), 'x-github-event': 'push', 'x-github-delivery': 'd' }, 401],
    ] as const) {
      const res = await fetch(`${env.url}/v1/hooks/github`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: big });
      assert.equal(res.status, status, JSON.stringify(headers));
      assert.equal(res.headers.get('connection'), 'close');
    }
  });

  it('GitLab: token, event UUID as the job id, one job per event', async () => {
    const body = JSON.stringify({
      object_kind: 'tag_push',
      ref: 'refs/tags/v4.0.0',
      before: '0'.repeat(40),
      after: 'abcabc0123456789abcdef0123456789abcdef01',
      checkout_sha: 'abcabc0123456789abcdef0123456789abcdef01',
      project: { path_with_namespace: 'acme/platform/os', path: 'os', namespace: 'platform' },
    });
    const send = (token: string | undefined, uuid: string) =>
      fetch(`${env.url}/v1/hooks/gitlab`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-gitlab-event': 'Tag Push Hook',
          'x-gitlab-event-uuid': uuid,
          ...(token !== undefined ? { 'x-gitlab-token': token } : {}),
        },
        body,
      });
    await unchanged(async () => {
      assert.equal((await send(undefined, randomUUID())).status, 401);
      assert.equal((await send(`${GITLAB_TOKEN}x`, randomUUID())).status, 401);
      assert.equal((await send(GITHUB_SECRET, randomUUID())).status, 401);
    });
    const uuid = randomUUID();
    const first = await send(GITLAB_TOKEN, uuid);
    const json = (await first.json()) as any;
    assert.equal(first.status, 202, JSON.stringify(json));
    assert.equal(json.id, `gitlab-${uuid}`);
    assert.equal(json.name, 'os-v4.0.0');
    await unchanged(async () => {
      const again = await send(GITLAB_TOKEN, uuid);
      assert.equal(again.status, 200);
      assert.equal(((await again.json()) as any).id, json.id);
    });
  });

  it('reports job counts, metrics and an OpenAPI document with the spec schema', async () => {
    const q = await env.api('GET', '/v1/queue');
    assert.equal(q.status, 200);
    assert.equal(q.json.queue, 'bundles');
    // BullMQ's counts, with the failed ones split into failed and cancelled (none here)
    assert.deepEqual(q.json.counts, { ...(await env.counts()), cancelled: 0 });
    const m = await fetch(`${env.url}/metrics`);
    assert.equal(m.status, 200);
    assert.match(m.headers.get('content-type') ?? '', /text\/plain/);
    const text = await m.text();
    assert.match(text, new RegExp(`^bundlefarm_jobs\\{state="waiting"\\} ${q.json.counts.waiting}$`, 'm'));
    assert.match(text, /^bundlefarm_queue_up 1$/m);
    assert.match(text, /^bundlefarm_process_cpu_user_seconds_total /m);
    for (const name of ['bundlefarm_image_bytes_total', 'bundlefarm_uploaded_bytes_total', 'bundlefarm_job_duration_seconds_bucket', 'bundlefarm_part_upload_retries_total', 'bundlefarm_jobs_cancelled_total', 'bundlefarm_queue_oldest_waiting_age_seconds', 'bundlefarm_build_info']) {
      assert.ok(text.includes(name), name);
    }
    const o = await fetch(`${env.url}/openapi.json`);
    const doc = (await o.json()) as any;
    assert.equal(doc.openapi, '3.1.0');
    for (const path of ['/v1/bundles', '/v1/bundles/{id}', '/v1/bundles/{id}/retry', '/v1/hooks/github', '/v1/hooks/gitlab', '/healthz', '/readyz', '/metrics']) {
      assert.ok(doc.paths[path], path);
    }
    assert.ok(!Object.keys(doc.paths).some((p: string) => p.startsWith('/admin')), 'Bull Board routes are not documented');
    // bodies are named component schemas (openapi-shape.ts): follow the reference
    const deref = (schema: { $ref?: string }): any => (schema.$ref ? doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')] : schema);
    const body = deref(doc.paths['/v1/bundles'].post.requestBody.content['application/json'].schema);
    assert.equal(body.additionalProperties, false);
    assert.deepEqual(body.required, ['image', 'architecture', 'accountId', 'identity', 'regions']);
    assert.ok(body.properties.regions.items.properties.region.enum.includes('us-gov-west-1'));
    assert.ok(deref(doc.paths['/v1/bundles/{id}'].get.responses['200'].content['application/json'].schema).properties.regions);
  });

  it('never logs tokens, signatures or secrets', async () => {
    let logged = '';
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        logged += chunk.toString('utf8');
        done();
      },
    });
    const app = await buildServer(
      {
        apiTokens: [TOKEN],
        githubWebhookSecrets: [GITHUB_SECRET],
        gitlabWebhookTokens: [GITLAB_TOKEN],
        redisUrl: env.redis.url,
        queuePrefix: `${PREFIX}-log`,
        logLevel: 'trace',
        admin: { user: 'admin', password: 'admin-password-123' },
      },
      { logStream: stream },
    );
    try {
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      const body = pushPayload('refs/tags/v1.0.0');
      const signature = githubSignature(body, GITHUB_SECRET);
      await fetch(`${url}/v1/bundles`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(specFor(targets)) });
      await fetch(`${url}/v1/bundles`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}zz`, 'content-type': 'application/json' }, body: '{}' });
      await fetch(`${url}/v1/hooks/github`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': 'd1', 'x-hub-signature-256': signature }, body });
      await fetch(`${url}/v1/hooks/gitlab`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-gitlab-token': GITLAB_TOKEN, 'x-gitlab-event-uuid': 'u1' }, body: '{}' });
      await fetch(`${url}/admin/queues`, { headers: { authorization: `Basic ${Buffer.from('admin:admin-password-123').toString('base64')}` } });
    } finally {
      await app.close();
    }
    assert.ok(logged.includes('"msg"'), 'something was logged');
    for (const secret of [TOKEN, GITHUB_SECRET, GITLAB_TOKEN, 'admin-password-123', Buffer.from('admin:admin-password-123').toString('base64')]) {
      assert.ok(!logged.includes(secret), `a secret (${secret.slice(0, 6)}…) is in the log`);
    }
    assert.ok(!logged.includes(githubSignature(pushPayload('refs/tags/v1.0.0'), GITHUB_SECRET).slice(7)), 'a signature is in the log');
  });

  it('keeps /healthz up without Redis; /readyz and the API say 503 while Redis is down, and recover', async () => {
    await env.redis.stop();
    try {
      assert.equal((await fetch(`${env.url}/healthz`)).status, 200);
      const ready = await fetch(`${env.url}/readyz`);
      assert.equal(ready.status, 503);
      assert.deepEqual(await ready.json(), { ok: false, redis: 'down' });
      const started = Date.now();
      const r = await env.api('POST', '/v1/bundles', specFor(targets));
      assert.equal(r.status, 503);
      assert.equal(r.json.error, 'BF_QUEUE_UNAVAILABLE');
      assert.ok(r.headers.get('retry-after'));
      assert.ok(Date.now() - started < 3000, 'fails fast');
      const m = await (await fetch(`${env.url}/metrics`)).text();
      assert.match(m, /^bundlefarm_queue_up 0$/m);
    } finally {
      await env.redis.restart();
    }
    let ok = false;
    for (let i = 0; i < 100 && !ok; i++) {
      ok = (await fetch(`${env.url}/readyz`)).status === 200;
      if (!ok) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(ok, '/readyz recovers');
    const r = await env.api('POST', '/v1/bundles', specFor(targets, { accountId: ACCOUNT }));
    assert.equal(r.status, 202);
  });
});
