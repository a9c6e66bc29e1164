import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  findTokenDigest,
  generateToken,
  hashToken,
  jobMac,
  jobMacValid,
  LEGACY_PRINCIPAL,
  Principals,
  PrincipalsFileError,
  specScopeProblems,
  validateJobSpec,
  type JobSpec,
} from '@bundlefarm/queue';

/** Principals, their scopes and the job MAC, without Redis (the service tests run them for real). */

const tokenA = 'a'.repeat(20) + '-team-a-token';
const tokenB = 'b'.repeat(20) + '-team-b-token';
const principals = Principals.parse({
  principals: [
    {
      name: 'team-a',
      tokenHashes: [hashToken(tokenA)],
      identities: ['nightly'],
      targets: ['amis/team-a/**'],
      images: ['team-a/**', 's3://ci-images/team-a/**'],
    },
    { name: 'ops', tokenHashes: [hashToken(tokenB)], canCancelOthers: true },
  ],
});

function spec(over: Record<string, unknown>): JobSpec {
  const v = validateJobSpec({
    name: 'os-1',
    image: 'team-a/os.img',
    architecture: 'x86_64',
    accountId: '123456789012',
    identity: 'nightly',
    regions: [{ region: 'us-east-1', bucket: 'amis', prefix: 'team-a/os/' }],
    ...over,
  });
  assert.ok(v.ok, JSON.stringify(v));
  return v.spec;
}

describe('principals', () => {
  it('find the principal of a token by its hash; unknown tokens find none', () => {
    assert.equal(principals.byToken(tokenA)?.name, 'team-a');
    assert.equal(principals.byToken(tokenB)?.name, 'ops');
    assert.equal(principals.byToken(tokenA + 'x'), undefined);
    assert.equal(findTokenDigest('nope', []), -1);
    assert.match(hashToken(tokenA), /^sha256:[0-9a-f]{64}$/);
    assert.ok(generateToken().length >= 40);
  });

  it('see and manage: their own jobs, others only when allowed', () => {
    const a = principals.get('team-a')!;
    const ops = principals.get('ops')!;
    assert.ok(a.maySee('team-a') && !a.maySee('ops') && !a.maySee(undefined));
    assert.ok(ops.maySee('team-a') && ops.mayManage('team-a') && ops.maySee(undefined));
  });

  it('refuse a bad file, naming every problem', () => {
    assert.throws(
      () =>
        Principals.parse({
          principals: [
            { name: 'x', tokenHashes: ['md5:abc'] },
            { name: 'x', tokenHashes: [hashToken(tokenA)] },
            { name: 'y', tokenHashes: [hashToken(tokenA)], color: 'blue' },
          ],
        }),
      (err: unknown) => {
        assert.ok(err instanceof PrincipalsFileError);
        for (const part of ['principals.0.tokenHashes.0', 'duplicate principal name', 'also given to', 'color']) assert.ok(err.message.includes(part), `${part} in ${err.message}`);
        return true;
      },
    );
  });

  it('the legacy token list is one unrestricted principal', () => {
    const legacy = Principals.unrestricted(['l'.repeat(16)]);
    assert.equal(legacy.name, LEGACY_PRINCIPAL);
    assert.deepEqual(specScopeProblems(legacy, spec({ identity: 'release', image: 's3://anything/x.img', regions: [{ region: 'us-east-1', bucket: 'other' }] })), []);
    assert.throws(() => Principals.unrestricted(['short']), /16 characters/);
  });
});

describe('scopes', () => {
  const a = principals.get('team-a')!;
  const paths = (s: JobSpec): string[] => specScopeProblems(a, s).map((p) => p.path);

  it('allow what is inside', () => {
    assert.deepEqual(paths(spec({})), []);
    assert.deepEqual(paths(spec({ image: 's3://ci-images/team-a/os.img', regions: [{ region: 'us-east-1', bucket: 'amis', prefix: 'team-a' }] })), []);
    assert.deepEqual(paths(spec({ image: 'team-a/./sub//os.img' })), [], 'paths are normalized');
  });

  it('name each field outside: identity, image, bucket, prefix', () => {
    assert.deepEqual(paths(spec({ identity: 'release' })), ['identity']);
    assert.deepEqual(paths(spec({ image: 'team-b/os.img' })), ['image']);
    assert.deepEqual(paths(spec({ image: 's3://ci-images/team-b/os.img' })), ['image']);
    // ".." in a key never reaches a scope check: the spec itself refuses it (the worker's key rules)
    const dotdot = validateJobSpec({ ...spec({}), image: 's3://ci-images/team-a/../team-b/os.img' });
    assert.ok(!dotdot.ok && dotdot.problems.some((p) => p.path === 'image'), JSON.stringify(dotdot));
    assert.deepEqual(
      paths(spec({ regions: [{ region: 'us-east-1', bucket: 'amis', prefix: 'team-a/' }, { region: 'eu-west-1', bucket: 'other', prefix: 'team-a/' }, { region: 'us-west-2', bucket: 'amis', prefix: 'team-ab/' }] })),
      ['regions.1.bucket', 'regions.2.prefix'],
    );
  });
});

describe('job MAC', () => {
  const key = Buffer.from('k'.repeat(32));
  const fields = { id: 'job-1', spec: spec({}), principal: 'team-a', source: 'api' };
  it('covers id, spec, principal, source, delivery and origin', () => {
    const mac = jobMac(key, fields);
    assert.ok(jobMacValid(key, fields, mac));
    assert.ok(jobMacValid(key, { ...fields, spec: JSON.parse(JSON.stringify(fields.spec)) }, mac), 'survives a JSON round trip (Redis)');
    for (const changed of [{ id: 'job-2' }, { principal: 'ops' }, { source: 'github' }, { delivery: 'd' }, { spec: spec({ identity: 'release' }) }, { origin: { provider: 'github', repository: 'acme/os', sha: 'a'.repeat(40) } }]) {
      assert.ok(!jobMacValid(key, { ...fields, ...changed }, mac), JSON.stringify(changed));
    }
    assert.ok(!jobMacValid(Buffer.from('x'.repeat(32)), fields, mac), 'another key');
    assert.ok(!jobMacValid(key, fields, undefined));
    assert.ok(!jobMacValid(key, fields, 'v1:zz'));
  });
  it('an origin cannot be moved to another commit or repository', () => {
    const origin = { provider: 'github', repository: 'acme/os', sha: 'a'.repeat(40), rule: 'tags' };
    const mac = jobMac(key, { ...fields, origin });
    assert.ok(jobMacValid(key, { ...fields, origin: JSON.parse(JSON.stringify(origin)) }, mac));
    for (const changed of [{ sha: 'b'.repeat(40) }, { repository: 'evil/os' }, { provider: 'gitlab' }, { rule: 'other' }]) {
      assert.ok(!jobMacValid(key, { ...fields, origin: { ...origin, ...changed } }, mac), JSON.stringify(changed));
    }
    assert.ok(!jobMacValid(key, fields, mac), 'the origin removed');
  });
});
