// The parts of notifications that need no process: the signature receivers check, delivery ids, the
// commit state of each job end, the origin check before a repository and commit go into a URL, and the
// start-up check of endpoint secrets (named by variable, never by value).
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { jobNotice, Principals, principalsFileSchema, type BundleJobData, type NotificationPayload } from '@bundlefarm/queue';
import { commitState, deliveryId, notificationSignature, NotifyTargets, originProblem, ServerConfigError, verifyNotificationSignature, WebhookRules } from '@bundlefarm/server';

const data: BundleJobData = {
  spec: {
    name: 'os',
    image: 'os.img',
    architecture: 'x86_64',
    accountId: '123456789012',
    identity: 'release',
    regions: [
      { region: 'us-east-1', bucket: 'amis', prefix: 'a/' },
      { region: 'eu-west-1', bucket: 'amis-eu', prefix: 'a/' },
    ],
    replace: false,
  },
  source: 'api',
  principal: 'team-a',
};

function notice(over: Partial<NotificationPayload> = {}): NotificationPayload {
  return { ...jobNotice({ id: 'job-1', data, state: 'completed' }), ...over };
}

describe('notification signature', () => {
  it('is sha256= the HMAC-SHA256 of the raw body, and verifies only with the secret and the same bytes', () => {
    const body = Buffer.from('{"a":1}');
    const sig = notificationSignature('s'.repeat(16), body);
    assert.equal(sig, `sha256=${createHmac('sha256', 's'.repeat(16)).update(body).digest('hex')}`);
    assert.ok(verifyNotificationSignature('s'.repeat(16), body, sig));
    assert.ok(!verifyNotificationSignature('t'.repeat(16), body, sig));
    assert.ok(!verifyNotificationSignature('s'.repeat(16), Buffer.from('{"a":2}'), sig));
    assert.ok(!verifyNotificationSignature('s'.repeat(16), body, undefined));
    assert.ok(!verifyNotificationSignature('s'.repeat(16), body, sig.toUpperCase()));
  });
});

describe('delivery ids', () => {
  it('are UUIDs, the same for the same notice and target, different otherwise', () => {
    const a = deliveryId('job-1.completed.0', 'principal:team-a:0');
    assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(deliveryId('job-1.completed.0', 'principal:team-a:0'), a);
    assert.notEqual(deliveryId('job-1.completed.0', 'principal:team-a:1'), a);
    assert.notEqual(deliveryId('job-1.completed.1', 'principal:team-a:0'), a);
  });
});

describe('job notices', () => {
  it('say what ended: spec summary, per-region keys, parts and AMI ids, the error of a failure', () => {
    const result = {
      name: 'os',
      digest: 'd'.repeat(40),
      size: 100,
      bundledSize: 50,
      parts: 1,
      seconds: 1,
      uploadRetries: 0,
      regions: {
        'us-east-1': { region: 'us-east-1', bucket: 'amis', manifestKey: 'a/os.manifest.xml', partKeys: ['a/os.part.0'], imageId: 'ami-0123456789abcdef0' },
        'eu-west-1': { region: 'eu-west-1', bucket: 'amis-eu', error: { code: 'BF_S3_ACCESS_DENIED', message: 'denied', transient: false, details: {} } },
      },
    };
    const n = jobNotice({ id: 'job-1', data, state: 'completed', result });
    assert.deepEqual(n.regions, [
      { region: 'us-east-1', bucket: 'amis', prefix: 'a/', manifestKey: 'a/os.manifest.xml', parts: 1, imageId: 'ami-0123456789abcdef0' },
      { region: 'eu-west-1', bucket: 'amis-eu', prefix: 'a/', error: { code: 'BF_S3_ACCESS_DENIED', message: 'denied' } },
    ]);
    assert.equal(commitState(n), 'failure', 'a region failed');
    const f = jobNotice({ id: 'job-1', data, state: 'failed', failedReason: 'BF_KEY_NOT_CONFIGURED: no key "x"' });
    assert.deepEqual(f.error, { code: 'BF_KEY_NOT_CONFIGURED', message: 'no key "x"' });
    assert.equal(f.result, undefined);
  });

  it('map to commit states: pending, success, failure, error', () => {
    assert.equal(commitState(notice({ state: 'queued' })), 'pending');
    assert.equal(commitState(notice()), 'success');
    assert.equal(commitState(notice({ state: 'failed' })), 'failure');
    assert.equal(commitState(notice({ state: 'cancelled' })), 'error');
  });
});

describe('origins', () => {
  const sha = 'a'.repeat(40);
  it('are used in a URL only when the repository and commit look like what the provider names', () => {
    assert.equal(originProblem({ provider: 'github', repository: 'acme/os', sha }), undefined);
    assert.equal(originProblem({ provider: 'gitlab', repository: 'acme/platform/os', sha }), undefined);
    for (const bad of [
      { provider: 'github' as const, repository: 'acme/os/x', sha },
      { provider: 'github' as const, repository: '../os', sha },
      { provider: 'gitlab' as const, repository: 'acme/../admin', sha },
      { provider: 'github' as const, repository: 'acme/os', sha: 'A'.repeat(40) },
      { provider: 'github' as const, repository: 'acme/os', sha: `${sha}/../../x` },
      { provider: 'gitlab' as const, repository: 'acme', sha },
    ]) {
      assert.ok(originProblem(bad) !== undefined, JSON.stringify(bad));
    }
  });
});

describe('notification targets', () => {
  const principals = Principals.parse({
    principals: [{ name: 'team-a', notify: [{ url: 'https://ci.example.com/hook', secretEnv: 'TEAM_A_SECRET' }] }, { name: 'team-b' }],
  });
  const rules = WebhookRules.parse({
    rules: [
      { name: 'tags', events: ['push'], principal: 'team-b', spec: {}, notify: [{ url: 'https://chat.example.com/x', secretEnv: 'RULE_SECRET', events: ['failed'] }] },
      { name: 'quiet', events: ['push'], principal: 'team-b', spec: {}, commitStatus: false },
    ],
  });

  it('need every secret variable set, 16+ characters, and name the variable, never the value', () => {
    assert.throws(
      () => new NotifyTargets({ principals, rules, statusProviders: new Set(), env: { TEAM_A_SECRET: 'short-secret' } }),
      (err: unknown) =>
        err instanceof ServerConfigError &&
        /TEAM_A_SECRET \(principal team-a notify\.0\.secretEnv\): must have at least 16 characters/.test(err.message) &&
        /RULE_SECRET \(rule tags notify\.0\.secretEnv\): is not set/.test(err.message) &&
        !err.message.includes('short-secret'),
    );
  });

  it('are the principal\'s and the rule\'s endpoints for the ends they want, and the commit status unless the rule opts out', () => {
    const t = new NotifyTargets({ principals, rules, statusProviders: new Set(['github']), env: { TEAM_A_SECRET: 'a'.repeat(16), RULE_SECRET: 'r'.repeat(16) } });
    const origin = { provider: 'github' as const, repository: 'acme/os', sha: 'a'.repeat(40), rule: 'tags' };
    const keys = (n: NotificationPayload): string[] => t.forNotice(n).map((x) => x.key);
    assert.deepEqual(keys(notice()), ['principal:team-a:0']);
    assert.deepEqual(keys(notice({ principal: 'team-b', origin })), ['status:github']);
    assert.deepEqual(keys(notice({ principal: 'team-b', origin, state: 'failed' })), ['rule:tags:0', 'status:github']);
    assert.deepEqual(keys(notice({ principal: 'team-b', origin, state: 'queued' })), ['status:github']);
    assert.deepEqual(keys(notice({ principal: 'team-b', origin: { ...origin, rule: 'quiet' } })), []);
    assert.deepEqual(keys(notice({ principal: 'team-b', origin: { ...origin, provider: 'gitlab' } })), [], 'no GitLab token');
    assert.equal(t.wanted('team-a'), true);
    assert.equal(t.wanted('team-b'), false);
    assert.equal(t.wanted('team-b', { provider: 'github', rule: 'quiet' }), false);
    assert.equal(t.wanted('team-b', { provider: 'github', rule: 'tags' }), true);
  });

  it('are http(s) URLs without credentials', () => {
    for (const url of ['ftp://x.example.com/', 'https://user:pw@x.example.com/', 'not a url']) {
      const r = principalsFileSchema.safeParse({ principals: [{ name: 'p', notify: [{ url, secretEnv: 'S' }] }] });
      assert.ok(!r.success, url);
    }
  });
});
