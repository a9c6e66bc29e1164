import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JOB_CLOCK_SKEW_MS, jobIssueProblem, jobMac, jobMacValid, Principals, specScopeProblems, validateJobSpec } from '@bundlefarm/queue';
import { DEFAULT_JOB_MAX_AGE_MS, jobMaxAgeSchema, loadWorkerConfig, WorkerConfigError } from '@bundlefarm/queue/worker';

/** BUNDLEFARM_JOB_MAX_AGE, the issue time in the job MAC, and the `register` scope, without Redis (test/service/job-trust.test.ts runs them for real). */

describe('BUNDLEFARM_JOB_MAX_AGE', () => {
  it('defaults to 7 days; takes seconds or a unit; the worker refuses what it cannot use, naming the variable', async () => {
    assert.equal(DEFAULT_JOB_MAX_AGE_MS, 7 * 24 * 3600_000);
    for (const [text, ms] of [['3600', 3600_000], ['90s', 90_000], ['30m', 1_800_000], ['12h', 43_200_000], ['2d', 172_800_000], [' 2d\n', 172_800_000]] as const) {
      assert.equal(jobMaxAgeSchema.parse(text), ms, text);
    }
    /** The worker's problems with BUNDLEFARM_JOB_MAX_AGE (its configuration file is missing: always a problem too). */
    const problems = async (value: string): Promise<string[]> => {
      try {
        await loadWorkerConfig({ BUNDLEFARM_CONFIG: '/nonexistent/bundlefarm-worker.json', BUNDLEFARM_JOB_MAX_AGE: value });
      } catch (err) {
        assert.ok(err instanceof WorkerConfigError, String(err));
        return err.problems.filter((p) => p.path === 'BUNDLEFARM_JOB_MAX_AGE').map((p) => p.message);
      }
      return assert.fail('a worker without its configuration file started');
    };
    assert.deepEqual(await problems('12h'), []);
    for (const bad of ['-1', '1.5h', '7 days', 'forever', '59s', '0']) assert.equal((await problems(bad)).length, 1, bad);
  });

  it('a job may run from its issue time (less the clock skew) until the maximum age', () => {
    const now = Date.UTC(2026, 0, 10);
    const day = 24 * 3600_000;
    assert.equal(jobIssueProblem(now, now, 7 * day), undefined);
    assert.equal(jobIssueProblem(now - 7 * day, now, 7 * day), undefined);
    assert.match(jobIssueProblem(now - 7 * day - 1, now, 7 * day) ?? '', /issued at 2026-01-02T23:59:59\.999Z, longer ago than the maximum job age/);
    assert.equal(jobIssueProblem(now + JOB_CLOCK_SKEW_MS, now, 7 * day), undefined);
    assert.match(jobIssueProblem(now + JOB_CLOCK_SKEW_MS + 1, now, 7 * day) ?? '', /in the future/);
    for (const bad of ['2026-01-10', -1, 1.5, null, {}]) assert.match(jobIssueProblem(bad, now, 7 * day) ?? '', /not a time/, JSON.stringify(bad));
  });

  it('the MAC covers the issue time (and a MAC without one stays what it was)', () => {
    const key = Buffer.from('k'.repeat(32));
    const fields = { id: 'j1', spec: { a: 1 }, principal: 'team-a', source: 'api' };
    const dated = jobMac(key, { ...fields, issuedAt: 1000 });
    assert.ok(jobMacValid(key, { ...fields, issuedAt: 1000 }, dated));
    assert.ok(!jobMacValid(key, { ...fields, issuedAt: 2000 }, dated));
    assert.ok(!jobMacValid(key, fields, dated));
    assert.ok(jobMacValid(key, fields, jobMac(key, fields)));
  });
});

describe('the register scope', () => {
  const principals = Principals.parse({
    principals: [
      { name: 'some', identities: ['*'], targets: ['**'], images: ['s3://**'], register: ['us-*'] },
      { name: 'none', identities: ['*'], targets: ['**'], images: ['s3://**'], register: false },
      { name: 'unsaid', identities: ['*'], targets: ['**'], images: ['s3://**'] },
    ],
  });
  const spec = (regions: Array<Record<string, unknown>>) => {
    const v = validateJobSpec({ image: 's3://images/y.img', architecture: 'x86_64', accountId: '123456789012', identity: 'n', regions });
    assert.ok(v.ok);
    return v.spec;
  };
  const register = { name: 'my ami' };

  it('names each region registered outside the scope; a region without register is no matter', () => {
    const s = spec([
      { region: 'us-west-2', bucket: 'bucket-1', register },
      { region: 'eu-west-1', bucket: 'bucket-2', register },
      { region: 'ap-south-1', bucket: 'bucket-3' },
    ]);
    assert.deepEqual(specScopeProblems(principals.get('some')!, s).map((p) => p.path), ['regions.1.register']);
    assert.deepEqual(specScopeProblems(principals.get('none')!, s).map((p) => p.path), ['regions.0.register', 'regions.1.register']);
    assert.deepEqual(specScopeProblems(principals.get('unsaid')!, s), [], 'a file without register keeps today\'s behaviour');
  });

  it('refuses a register value that is neither a boolean nor a list of globs', () => {
    assert.throws(() => Principals.parse({ principals: [{ name: 'x', register: 'us-east-1' }] }), /register/);
  });
});
