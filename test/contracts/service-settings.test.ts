// One rule, one place: BUNDLEFARM_REDIS_URL, BUNDLEFARM_QUEUE_PREFIX and BUNDLEFARM_LOG_LEVEL mean the
// same to the API, the worker and the producer (@bundlefarm/queue service-settings.ts; `serve --local`
// checks its --redis and --log-level with the same schemas, logLevelSchema and redisUrlSchema).
// An operator sets them once for the API and every worker: a value one of them takes and another refuses
// would start half a deployment (the worker took a prefix with ":" that the API refused).
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkProducerOptions, jobMacKey, LOG_LEVELS } from '@bundlefarm/queue';
import { writeIdentity } from '@bundlefarm/testkit/identity.js';
import { tempDir } from '@bundlefarm/testkit/temp-dir.js';
import { loadWorkerConfig, WorkerConfigError } from '@bundlefarm/queue/worker';
import { serverConfigFromEnv, ServerConfigError } from '@bundlefarm/server';

const CLUSTER = 'redis+cluster://10.0.0.1:7000,10.0.0.2:7000';

function apiAccepts(env: Record<string, string>): boolean {
  try {
    serverConfigFromEnv({ BUNDLEFARM_API_TOKENS: 'a'.repeat(16), ...env });
    return true;
  } catch (err) {
    if (!(err instanceof ServerConfigError)) throw err;
    return false;
  }
}

/** Whether the worker has no problem with `name` (its configuration file is missing: that problem is always there). */
async function workerAccepts(env: Record<string, string>, name: string): Promise<boolean> {
  try {
    await loadWorkerConfig({ BUNDLEFARM_CONFIG: '/nonexistent/bundlefarm-worker.json', ...env });
  } catch (err) {
    if (!(err instanceof WorkerConfigError)) throw err;
    assert.ok(err.problems.some((p) => p.path === 'BUNDLEFARM_CONFIG'), 'the missing file is reported');
    return !err.problems.some((p) => p.path === name);
  }
  assert.fail('a worker without its configuration file started');
}

function producerAccepts(options: { redisUrl?: string; prefix?: string }): boolean {
  try {
    checkProducerOptions(options);
    return true;
  } catch (err) {
    if ((err as { code?: unknown }).code === undefined) throw err;
    return false;
  }
}

/** Strings near the prefix rule: its alphabet, ":" and blanks, lengths around 64; or anything. */
const prefixes = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', 'Z', '9', '_', '.', '-', '{', '}', ':', ' ', '/', 'é'), maxLength: 70 }),
  fc.string({ unit: fc.constantFrom('b', '{', '}'), minLength: 60, maxLength: 68 }),
  fc.string({ maxLength: 12 }),
);

describe('the API, the worker and the producer accept and refuse the same shared settings', () => {
  it('queue prefixes: the examples of the docs, and ":" refused by all', async () => {
    const table: Array<[string, boolean]> = [
      ['bundlefarm', true],
      ['{bundlefarm}', true],
      ['farm-{eu}.v2_x', true],
      ['a'.repeat(64), true],
      ['a'.repeat(65), false],
      ['a:b', false],
      ['{bundlefarm}:jobs', false],
      ['bad prefix', false],
      ['farm/eu', false],
      ['férme', false],
    ];
    for (const [prefix, accepted] of table) {
      assert.equal(apiAccepts({ BUNDLEFARM_QUEUE_PREFIX: prefix }), accepted, `API ${prefix}`);
      assert.equal(await workerAccepts({ BUNDLEFARM_QUEUE_PREFIX: prefix }, 'BUNDLEFARM_QUEUE_PREFIX'), accepted, `worker ${prefix}`);
      assert.equal(producerAccepts({ prefix }), accepted, `producer ${prefix}`);
    }
  });

  it('queue prefixes: the same answer for any value, with a single Redis and with a cluster', async () => {
    await fc.assert(
      fc.asyncProperty(prefixes, fc.constantFrom('redis://127.0.0.1:6379', CLUSTER), async (prefix, redisUrl) => {
        const env = { BUNDLEFARM_REDIS_URL: redisUrl, BUNDLEFARM_QUEUE_PREFIX: prefix };
        const api = apiAccepts(env);
        assert.equal(await workerAccepts(env, 'BUNDLEFARM_QUEUE_PREFIX'), api, JSON.stringify(env));
        // the producer takes options, not variables: what the variable holds once read
        const read = prefix.trim();
        if (read !== '') assert.equal(producerAccepts({ redisUrl, prefix: read }), api, JSON.stringify(env));
      }),
      { numRuns: 300 },
    );
  });

  it('log levels: pino levels only, in either', async () => {
    const table: Array<[string, boolean]> = [
      ...LOG_LEVELS.map((level): [string, boolean] => [level, true]),
      [' debug ', true],
      ['INFO', false],
      ['warning', false],
      ['loud', false],
      ['10', false],
    ];
    for (const [level, accepted] of table) {
      assert.equal(apiAccepts({ BUNDLEFARM_LOG_LEVEL: level }), accepted, `API ${level}`);
      assert.equal(await workerAccepts({ BUNDLEFARM_LOG_LEVEL: level }, 'BUNDLEFARM_LOG_LEVEL'), accepted, `worker ${level}`);
    }
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.constantFrom(...LOG_LEVELS), fc.string({ maxLength: 8 })), async (level) => {
        const api = apiAccepts({ BUNDLEFARM_LOG_LEVEL: level });
        assert.equal(await workerAccepts({ BUNDLEFARM_LOG_LEVEL: level }, 'BUNDLEFARM_LOG_LEVEL'), api, JSON.stringify(level));
      }),
      { numRuns: 200 },
    );
  });

  it('Redis URLs: one parser, one answer', async () => {
    const table: Array<[string, boolean]> = [
      ['redis://127.0.0.1:6379', true],
      ['rediss://:pw@cache.example.com:6380/2', true],
      ['redis+sentinel://s1:26379,s2:26379/farm-master?db=1', true],
      [CLUSTER, true],
      ['http://localhost:6379', false],
      ['redis+sentinel://s1:26379', false],
      ['redis+cluster://n1:7000/3', false],
      ['redis://', false],
    ];
    for (const [url, accepted] of table) {
      assert.equal(apiAccepts({ BUNDLEFARM_REDIS_URL: url }), accepted, `API ${url}`);
      assert.equal(await workerAccepts({ BUNDLEFARM_REDIS_URL: url }, 'BUNDLEFARM_REDIS_URL'), accepted, `worker ${url}`);
      assert.equal(producerAccepts({ redisUrl: url }), accepted, `producer ${url}`);
    }
  });
});

describe('worker and API read a value the same way', () => {
  it('drops blanks around the job MAC key and the max age as the API does: a key pasted with a newline is the same key on both sides', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'keys'));
    await writeIdentity(join(dir, 'keys'));
    const file = join(dir, 'worker.json');
    await writeFile(file, JSON.stringify({ identities: { release: { key: 'keys/user-key.pem', cert: 'keys/user-cert.pem' } } }));
    const key = 'k'.repeat(40);
    const config = await loadWorkerConfig({ BUNDLEFARM_CONFIG: file, BUNDLEFARM_JOB_MAC_KEY: ` ${key}\n`, BUNDLEFARM_JOB_MAX_AGE: ' 12h ' });
    const api = serverConfigFromEnv({ BUNDLEFARM_API_TOKENS: 'a'.repeat(16), BUNDLEFARM_JOB_MAC_KEY: ` ${key}\n` }).config;
    assert.equal(api.jobMacKey, key);
    assert.deepEqual(config.jobMacKey, jobMacKey(key));
    assert.equal(config.jobMaxAgeMs, 12 * 3600_000);
  });
});
