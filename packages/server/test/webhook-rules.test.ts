import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { validateJobSpec } from '@bundlefarm/queue';
import { githubContext, githubSignature, gitlabContext, globToRegExp, verifyGithubSignature, verifyGitlabToken, WebhookRules, WebhookRulesError } from '@bundlefarm/server';
import { REPO } from '../../../test/helpers/fixtures.js';

const spec = {
  name: '{{repository_name}}-{{tag}}',
  image: 'images/{{repository_name}}.img',
  architecture: 'x86_64',
  accountId: '123456789012',
  identity: 'release',
  regions: [{ region: 'us-east-1', bucket: 'amis', prefix: '{{repository}}/{{sha7}}/' }],
};

const repo = { full_name: 'acme/os', name: 'os', owner: { login: 'acme' } };
const sha = '0123456789abcdef0123456789abcdef01234567';

describe('globs', () => {
  it('match whole values; * stays within a segment, ** crosses them', () => {
    assert.ok(globToRegExp('v*').test('v1.2.3'));
    assert.ok(!globToRegExp('v*').test('v1/beta'));
    assert.ok(!globToRegExp('v*').test('xv1'));
    assert.ok(globToRegExp('release/**').test('release/2024/q1'));
    assert.ok(globToRegExp('acme/*').test('acme/os'));
    assert.ok(!globToRegExp('acme/*').test('acme/os/sub'));
    assert.ok(globToRegExp('v?.0').test('v1.0'));
    assert.ok(!globToRegExp('v1.0').test('v1x0'), 'dots are literal');
    assert.ok(globToRegExp('a+b(c)[d]{e}|^$').test('a+b(c)[d]{e}|^$'), 'regex characters are literal');
  });

  it('a glob without wildcards matches exactly itself (property)', () => {
    fc.assert(
      fc.property(fc.string().filter((s) => !/[*?]/.test(s)), fc.string(), (glob, other) => {
        assert.ok(globToRegExp(glob).test(glob));
        if (other !== glob) assert.ok(!globToRegExp(glob).test(other));
      }),
    );
  });
});

describe('webhook rules', () => {
  const rules = WebhookRules.parse({
    rules: [
      { name: 'tags', provider: 'github', events: ['push'], when: { repository: 'acme/*', tag: ['v*', 'release-*'] }, spec },
      { name: 'main', events: ['push', 'tag_push'], when: { branch: 'main' }, spec: { ...spec, name: '{{repository_name}}-main-{{sha7}}' } },
    ],
  });

  it('render the first matching rule with the event values', () => {
    const m = rules.match(githubContext('push', 'd-1', { ref: 'refs/tags/v1.0.0', after: sha, repository: repo }));
    assert.ok(m);
    assert.equal(m.rule, 'tags');
    assert.deepEqual(m.problems, []);
    const v = validateJobSpec(m.spec);
    assert.ok(v.ok, JSON.stringify(v));
    assert.equal(v.spec.name, 'os-v1.0.0');
    assert.equal(v.spec.image, 'images/os.img');
    assert.equal(v.spec.regions[0]!.prefix, 'acme/os/0123456/');
  });

  it('match on provider, event and every condition', () => {
    assert.equal(rules.match(githubContext('push', 'd', { ref: 'refs/tags/v1', after: sha, repository: { ...repo, full_name: 'evil/os' } })), undefined);
    assert.equal(rules.match(githubContext('release', 'd', { action: 'published', release: { tag_name: 'v1' }, repository: repo })), undefined);
    assert.equal(rules.match(githubContext('push', 'd', { ref: 'refs/heads/main', after: '0'.repeat(40), deleted: true, repository: repo })), undefined);
    const main = rules.match(gitlabContext('push', 'u', { object_kind: 'push', ref: 'refs/heads/main', checkout_sha: sha, project: { path_with_namespace: 'acme/os', path: 'os' } }));
    assert.equal(main?.rule, 'main');
    assert.equal((main?.spec as { name: string }).name, 'os-main-0123456');
  });

  it('name placeholders the event has no value for', () => {
    const r = WebhookRules.parse({ rules: [{ name: 'x', events: ['push'], spec }] });
    const m = r.match(githubContext('push', 'd', { ref: 'refs/heads/dev', after: sha, repository: repo }));
    assert.ok(m);
    assert.deepEqual(m.problems, [{ path: 'name', message: 'placeholder {{tag}} has no value in this github push event' }]);
  });

  it('refuse a bad rules file, naming every problem', () => {
    assert.throws(
      () =>
        WebhookRules.parse({
          rules: [
            { name: 'a', events: ['push'], spec: { image: '{{nope}}' } },
            { name: 'a', events: ['Push!'], when: { color: 'x' }, spec: {} },
          ],
          extra: true,
        }),
      (err: unknown) => {
        assert.ok(err instanceof WebhookRulesError);
        for (const part of ['unknown placeholder {{nope}}', 'duplicate rule name', 'rules.1.events.0', 'rules.1.when', 'extra']) {
          assert.ok(err.message.includes(part), `${part} in ${err.message}`);
        }
        return true;
      },
    );
  });

  it('the example rules file of the docs is valid and renders valid specs', async () => {
    const example = await WebhookRules.load(join(REPO, 'docs', 'webhook-rules.example.json'));
    assert.ok(example.size >= 3);
    const push = example.match(githubContext('push', 'd', { ref: 'refs/tags/v2.1.0', after: sha, repository: repo }));
    assert.ok(push, 'a GitHub tag push matches');
    const v = validateJobSpec(push.spec);
    assert.ok(v.ok, JSON.stringify(v));
    const text = await readFile(join(REPO, 'docs', 'webhook-rules.example.json'), 'utf8');
    assert.ok(JSON.parse(text).rules.some((r: { provider?: string }) => r.provider === 'gitlab'));
  });
});

describe('event contexts', () => {
  it('GitHub workflow_run, release and create', () => {
    const run = githubContext('workflow_run', 'd', {
      action: 'completed',
      workflow_run: { name: 'build', head_branch: 'main', head_sha: sha, conclusion: 'success' },
      repository: repo,
    });
    assert.deepEqual(run.vars, {
      provider: 'github',
      event: 'workflow_run',
      delivery: 'd',
      action: 'completed',
      repository: 'acme/os',
      repository_name: 'os',
      owner: 'acme',
      ref: 'refs/heads/main',
      branch: 'main',
      sha,
      sha7: '0123456',
      workflow: 'build',
      conclusion: 'success',
    });
    const release = githubContext('release', 'd', { action: 'published', release: { tag_name: 'v3' }, repository: repo });
    assert.equal(release.vars.tag, 'v3');
    assert.equal(release.vars.sha, undefined);
    assert.equal(githubContext('create', 'd', { ref: 'v4', ref_type: 'tag', repository: repo }).vars.ref, 'refs/tags/v4');
  });

  it('GitLab pipeline and tag deletion', () => {
    const p = gitlabContext('pipeline', 'u', {
      object_kind: 'pipeline',
      object_attributes: { ref: 'v1.0', tag: true, sha, status: 'success' },
      project: { path_with_namespace: 'group/sub/os', path: 'os' },
    });
    assert.equal(p.vars.tag, 'v1.0');
    assert.equal(p.vars.conclusion, 'success');
    assert.equal(p.vars.owner, 'group/sub');
    const del = gitlabContext('tag_push', 'u', { object_kind: 'tag_push', ref: 'refs/tags/v1', after: '0'.repeat(40), checkout_sha: null, project: {} });
    assert.equal(del.deleted, true);
  });
});

describe('webhook authentication', () => {
  it('GitHub signatures: any configured secret, exact bytes only', () => {
    const body = Buffer.from('{"a":1}');
    const sig = githubSignature(body, 'secret-one-0123456789');
    assert.ok(verifyGithubSignature(body, sig, ['other-secret-0123456', 'secret-one-0123456789']));
    assert.ok(verifyGithubSignature(body, sig.toUpperCase().replace('SHA256=', 'sha256='), ['secret-one-0123456789']), 'hex case does not matter');
    assert.ok(!verifyGithubSignature(Buffer.from('{"a":2}'), sig, ['secret-one-0123456789']));
    assert.ok(!verifyGithubSignature(body, sig, []));
    assert.ok(!verifyGithubSignature(body, undefined, ['secret-one-0123456789']));
    assert.ok(!verifyGithubSignature(body, sig.replace('sha256=', 'sha1='), ['secret-one-0123456789']));
  });

  it('GitLab tokens compare whole', () => {
    assert.ok(verifyGitlabToken('token-0123456789abcdef', ['x', 'token-0123456789abcdef']));
    assert.ok(!verifyGitlabToken('token-0123456789abcde', ['token-0123456789abcdef']));
    assert.ok(!verifyGitlabToken('', ['']));
    assert.ok(!verifyGitlabToken(undefined, ['token-0123456789abcdef']));
  });
});
