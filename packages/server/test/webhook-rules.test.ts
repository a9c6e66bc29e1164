import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { hashToken, Principals, validateJobSpec } from '@bundlefarm/queue';
import { githubContext, githubSignature, gitlabContext, MAX_EVENT_VALUE_BYTES, verifyGithubSignature, verifyGitlabToken, WebhookRules, WebhookRulesError } from '@bundlefarm/server';
import { REPO } from '@bundlefarm/testkit/fixtures.js';

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
      workflow_run: { name: 'build', head_branch: 'main', head_sha: sha, conclusion: 'success', event: 'push', head_repository: { full_name: 'acme/os' } },
      workflow: { name: 'build' },
      repository: repo,
    });
    assert.equal(run.fork, false);
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
      trigger: 'push',
      head_repository: 'acme/os',
      fork: 'false',
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

/** A workflow_run as GitHub sends it for a pull request from a fork whose branch is named main. */
function forkRun(headRepo: string | null, trigger = 'pull_request'): Record<string, unknown> {
  return {
    action: 'completed',
    workflow_run: {
      name: 'build-image',
      head_branch: 'main',
      head_sha: sha,
      event: trigger,
      conclusion: 'success',
      ...(headRepo === null ? {} : { head_repository: { full_name: headRepo, fork: headRepo !== 'acme/os' } }),
    },
    workflow: { name: 'build-image' },
    repository: repo,
  };
}

describe('forks', () => {
  const example = WebhookRules.load(join(REPO, 'docs', 'webhook-rules.example.json'));

  it("a fork's workflow_run on a branch named main does not match the shipped github-main-builds rule", async () => {
    const rules = await example;
    const fork = githubContext('workflow_run', 'd', forkRun('mallory/os'));
    assert.equal(fork.fork, true);
    assert.equal(fork.vars.head_repository, 'mallory/os');
    assert.equal(fork.vars.branch, 'main');
    assert.equal(rules.match(fork), undefined, 'a fork never matches');
    // a run whose head repository is not told is taken for a fork as well
    assert.equal(rules.match(githubContext('workflow_run', 'd', forkRun(null))), undefined);
    // the same run on the repository itself does match: the rule is the one that would have fired
    const own = rules.match(githubContext('workflow_run', 'd', forkRun('acme/os', 'push')));
    assert.equal(own?.rule, 'github-main-builds');
  });

  it('no rule of the shipped file allows forks', async () => {
    const text = JSON.parse(await readFile(join(REPO, 'docs', 'webhook-rules.example.json'), 'utf8')) as { rules: Array<{ allowForks?: boolean }> };
    assert.ok(text.rules.every((r) => r.allowForks !== true));
  });

  it('pull requests and GitLab merge requests (and their pipelines) from forks are forks', () => {
    const pr = (head: string) => githubContext('pull_request', 'd', {
      action: 'opened',
      number: 1,
      pull_request: { head: { ref: 'main', sha, repo: { full_name: head } }, base: { ref: 'main', repo: { full_name: 'acme/os' } } },
      repository: repo,
    });
    assert.equal(pr('mallory/os').fork, true);
    assert.equal(pr('acme/os').fork, false);
    const pipeline = (source: number) =>
      gitlabContext('pipeline', 'u', {
        object_kind: 'pipeline',
        object_attributes: { ref: 'main', sha, status: 'success', source: 'merge_request_event' },
        merge_request: { source_project_id: source, target_project_id: 7, source: { path_with_namespace: source === 7 ? 'acme/os' : 'mallory/os' } },
        project: { id: 7, path_with_namespace: 'acme/os', path: 'os' },
      });
    assert.equal(pipeline(9).fork, true);
    assert.equal(pipeline(9).vars.head_repository, 'mallory/os');
    assert.equal(pipeline(7).fork, false);
    const mr = gitlabContext('merge_request', 'u', { object_kind: 'merge_request', object_attributes: { source_project_id: 9, target_project_id: 7, source_branch: 'main' }, project: {} });
    assert.equal(mr.fork, true);
    const rules = WebhookRules.parse({
      rules: [
        { name: 'strict', events: ['pipeline'], when: { branch: 'main' }, spec },
        { name: 'open', events: ['pipeline'], when: { branch: 'main' }, allowForks: true, spec: { ...spec, name: 'fork-{{sha7}}' } },
      ],
    });
    assert.equal(rules.match(pipeline(9))?.rule, 'open', 'only a rule with allowForks matches a fork');
    assert.equal(rules.match(pipeline(7))?.rule, 'strict');
  });
});

describe('event values', () => {
  it(`longer than ${MAX_EVENT_VALUE_BYTES} bytes never match a condition`, () => {
    const rules = WebhookRules.parse({ rules: [{ name: 'r', events: ['push'], when: { branch: 'release/**' }, spec }] });
    const push = (branch: string) => githubContext('push', 'd', { ref: `refs/heads/${branch}`, after: sha, repository: repo, pusher: {} });
    const fits = 'release/' + 'x'.repeat(MAX_EVENT_VALUE_BYTES - 'release/'.length);
    assert.equal(rules.match(push(fits))?.rule, 'r');
    assert.equal(rules.match(push(fits + 'x')), undefined);
    assert.equal(rules.match(push('release/' + 'é'.repeat(600))), undefined, 'bytes, not characters');
  });
});

describe('rules as principals', () => {
  const principals = Principals.parse({
    principals: [
      { name: 'nightly-ci', identities: ['nightly'], targets: ['amis/nightly/**'], images: ['s3://ci-images/**'] },
      { name: 'release-ci', tokenHashes: [hashToken('r'.repeat(32))], identities: ['release'], targets: ['amis/**'], images: ['releases/**'] },
    ],
  });
  const nightly = {
    name: '{{repository_name}}-{{sha7}}',
    image: 's3://ci-images/{{repository_name}}/{{sha}}.img',
    architecture: 'x86_64',
    accountId: '123456789012',
    identity: 'nightly',
    regions: [{ region: 'us-east-1', bucket: 'amis', prefix: 'nightly/{{repository_name}}/' }],
  };

  it('load when every rule names a principal whose scope fits what its template spells out', () => {
    const rules = WebhookRules.parse({ rules: [{ name: 'n', events: ['push'], principal: 'nightly-ci', spec: nightly }] }, 'doc', principals);
    const m = rules.match(githubContext('push', 'd', { ref: 'refs/heads/main', after: sha, repository: repo, pusher: {} }));
    assert.equal(m?.principal, 'nightly-ci');
  });

  it('refuse, naming the field, rules whose identity, bucket, prefix or image is outside their principal, or that name none', () => {
    assert.throws(
      () =>
        WebhookRules.parse(
          {
            rules: [
              { name: 'a', events: ['push'], principal: 'nightly-ci', spec: { ...nightly, identity: 'release' } },
              { name: 'b', events: ['push'], principal: 'nightly-ci', spec: { ...nightly, regions: [{ region: 'us-east-1', bucket: 'other', prefix: 'x/' }] } },
              { name: 'c', events: ['push'], principal: 'nightly-ci', spec: { ...nightly, regions: [{ region: 'us-east-1', bucket: 'amis', prefix: 'release/{{tag}}/' }] } },
              { name: 'd', events: ['push'], principal: 'nightly-ci', spec: { ...nightly, image: 's3://other-team/{{sha}}.img' } },
              { name: 'e', events: ['push'], spec: nightly },
              { name: 'f', events: ['push'], principal: 'nobody', spec: nightly },
            ],
          },
          'doc',
          principals,
        ),
      (err: unknown) => {
        assert.ok(err instanceof WebhookRulesError);
        for (const part of ['rules.0.spec.identity', 'rules.1.spec.regions.0.bucket', 'rules.2.spec.regions.0.prefix', 'rules.3.spec.image', 'rules.4.principal', 'rules.5.principal']) {
          assert.ok(err.message.includes(part), `${part} in ${err.message}`);
        }
        return true;
      },
    );
  });
});

describe('the shipped example files', () => {
  it('the example rules load against the example principals (every rule inside its principal)', async () => {
    const principals = await Principals.load(join(REPO, 'docs', 'principals.example.json'));
    const rules = await WebhookRules.load(join(REPO, 'docs', 'webhook-rules.example.json'), principals);
    assert.ok(rules.size >= 5);
  });
});
