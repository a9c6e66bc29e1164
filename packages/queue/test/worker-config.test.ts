import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generateSelfSignedIdentity } from '@bundlefarm/format';
import { describeWorkerConfig, loadWorkerConfig, WorkerConfigError, WORKER_DEFAULTS, s3SettingsFor } from '@bundlefarm/queue/worker';
import { run } from '@bundlefarm/testkit/run.js';
import { testIdentity, writeIdentity } from '@bundlefarm/testkit/identity.js';
import { tempDir } from '@bundlefarm/testkit/temp-dir.js';
import { WORKER_BIN, writeJson } from './worker-fixture.js';

/** Worker configuration: defaults, every problem reported at once, keys checked at start-up, no secret echoed. */

async function configError(env: NodeJS.ProcessEnv): Promise<WorkerConfigError> {
  try {
    await loadWorkerConfig(env);
  } catch (err) {
    assert.ok(err instanceof WorkerConfigError, String(err));
    return err;
  }
  assert.fail('the configuration was accepted');
}

function paths(err: WorkerConfigError): string[] {
  return err.problems.map((p) => p.path);
}

describe('worker configuration', () => {
  it('fills in every default; relative paths are relative to the file', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'keys'));
    await writeIdentity(join(dir, 'keys'));
    const file = await writeJson(join(dir, 'worker.json'), { identities: { release: { key: 'keys/user-key.pem', cert: 'keys/user-cert.pem' } } });
    const config = await loadWorkerConfig({ BUNDLEFARM_CONFIG: file });
    assert.equal(config.redisUrl, 'redis://127.0.0.1:6379');
    assert.equal(config.prefix, 'bundlefarm');
    assert.equal(config.logLevel, 'info');
    assert.equal(config.configFile, file);
    assert.equal(config.concurrency, 1);
    assert.equal(config.threads, availableParallelism());
    assert.equal(config.progressIntervalMs, 1000);
    assert.equal(config.shutdownGraceMs, 30_000);
    assert.equal(config.lockDurationMs, WORKER_DEFAULTS.lockDurationMs);
    assert.equal(config.imageRoot, undefined);
    assert.deepEqual(config.ec2Certificates, {});
    assert.equal(config.s3.acl, 'aws-exec-read');
    assert.equal(config.s3.partsInFlight, 4);
    assert.equal(config.s3.imageRegion, 'us-east-1');
    assert.deepEqual(config.s3.defaults, {});
    assert.equal(config.metrics, undefined, 'no metrics server unless asked for');
    // one variable turns it on (bound to the loopback); another opens it to the network
    assert.deepEqual((await loadWorkerConfig({ BUNDLEFARM_CONFIG: file, BUNDLEFARM_WORKER_METRICS_PORT: '9464' })).metrics, { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(
      (await loadWorkerConfig({ BUNDLEFARM_CONFIG: file, BUNDLEFARM_WORKER_METRICS_PORT: '0', BUNDLEFARM_WORKER_METRICS_HOST: '0.0.0.0' })).metrics,
      { host: '0.0.0.0', port: 0 },
    );
    const id = config.identities.get('release');
    assert.ok(id);
    assert.equal(id.privateKey.key.asymmetricKeyType, 'rsa');
    assert.equal(id.certificate.source, join(dir, 'keys', 'user-cert.pem'));
  });

  it('takes the environment, a hash-tag prefix, S3 settings per region, credentials from named variables', async () => {
    const dir = await tempDir();
    const { key, cert } = await writeIdentity(dir);
    await mkdir(join(dir, 'images'));
    const ec2 = generateSelfSignedIdentity();
    await writeFile(join(dir, 'ec2.pem'), ec2.certificatePem);
    const file = await writeJson(join(dir, 'w.json'), {
      identities: { a: { key, cert }, b: { key, cert } },
      imageRoot: 'images',
      s3: {
        endpoint: 'http://127.0.0.1:9000',
        forcePathStyle: true,
        accessKeyIdEnv: 'K',
        secretAccessKeyEnv: 'S',
        partsInFlight: 8,
        retry: { attempts: 2 },
        regions: { 'us-gov-west-1': { endpoint: 'http://127.0.0.1:9001', accessKeyIdEnv: 'GK', secretAccessKeyEnv: 'GS' }, 'eu-west-1': { maxAttempts: 5 } },
      },
      ec2Certificates: { 'aws-cn': 'ec2.pem' },
      concurrency: 3,
      threads: 2,
      progressIntervalMs: 500,
      shutdownGraceMs: 0,
      lockDurationMs: 90_000,
      metricsPort: 9464,
    });
    const config = await loadWorkerConfig({
      BUNDLEFARM_CONFIG: file,
      BUNDLEFARM_REDIS_URL: 'redis://:pw-not-for-logs@10.0.0.5:6380/2',
      BUNDLEFARM_QUEUE_PREFIX: '{bundlefarm}',
      BUNDLEFARM_LOG_LEVEL: 'warn',
      K: 'AKIADEFAULT',
      S: 'default-secret',
      GK: 'AKIAGOV',
      GS: 'gov-secret',
    });
    assert.equal(config.prefix, '{bundlefarm}');
    assert.equal(config.logLevel, 'warn');
    assert.deepEqual([...config.identities.keys()], ['a', 'b']);
    assert.equal(config.imageRoot, join(dir, 'images'));
    assert.equal(config.ec2Certificates['aws-cn']?.source, join(dir, 'ec2.pem'));
    assert.equal(config.concurrency, 3);
    assert.equal(config.threads, 2);
    assert.equal(config.s3.partsInFlight, 8);
    assert.equal(config.s3.retry.attempts, 2);
    // metrics on the loopback unless told otherwise
    assert.deepEqual(config.metrics, { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(s3SettingsFor(config.s3, 'us-east-1'), {
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
      credentials: { accessKeyId: 'AKIADEFAULT', secretAccessKey: 'default-secret' },
    });
    assert.deepEqual(s3SettingsFor(config.s3, 'us-gov-west-1'), {
      region: 'us-gov-west-1',
      endpoint: 'http://127.0.0.1:9001',
      forcePathStyle: true,
      credentials: { accessKeyId: 'AKIAGOV', secretAccessKey: 'gov-secret' },
    });
    // an override inherits what it does not set, credentials included
    assert.deepEqual(s3SettingsFor(config.s3, 'eu-west-1').credentials, { accessKeyId: 'AKIADEFAULT', secretAccessKey: 'default-secret' });
    assert.equal(s3SettingsFor(config.s3, 'eu-west-1').maxAttempts, 5);

    // the start-up summary names what runs, never a secret
    const summary = JSON.stringify(describeWorkerConfig(config));
    for (const secret of ['pw-not-for-logs', 'default-secret', 'gov-secret', 'AKIADEFAULT', 'AKIAGOV', 'PRIVATE KEY']) {
      assert.ok(!summary.includes(secret), `${secret} in ${summary}`);
    }
    assert.match(summary, /redis:\/\/:\*\*\*@10\.0\.0\.5:6380\/2/);
  });

  it('names every problem of the environment and the file at once', async () => {
    const dir = await tempDir();
    const file = await writeJson(join(dir, 'w.json'), {
      identities: {},
      concurrency: 0,
      threads: 'many',
      colour: 'blue',
      s3: { acl: 'private', regions: { 'Not A Region': {} }, retry: { attempts: 100 } },
      ec2Certificates: { 'aws-moon': '/x.pem' },
      lockDurationMs: 10,
      metricsPort: 70_000,
      metricsHost: 'not a host',
    });
    const err = await configError({
      BUNDLEFARM_CONFIG: file,
      BUNDLEFARM_REDIS_URL: 'http://:hunter2@localhost',
      BUNDLEFARM_QUEUE_PREFIX: 'bad prefix',
      BUNDLEFARM_LOG_LEVEL: 'loud',
      BUNDLEFARM_WORKER_METRICS_PORT: 'ninety',
    });
    const p = paths(err);
    for (const expected of [
      'BUNDLEFARM_REDIS_URL',
      'BUNDLEFARM_QUEUE_PREFIX',
      'BUNDLEFARM_LOG_LEVEL',
      'identities',
      'concurrency',
      'threads',
      'lockDurationMs',
      'metricsPort',
      'metricsHost',
      'BUNDLEFARM_WORKER_METRICS_PORT',
      's3.acl',
      's3.retry.attempts',
    ]) {
      assert.ok(p.includes(expected), `no problem at ${expected} in ${JSON.stringify(err.problems)}`);
    }
    assert.ok(p.some((x) => x.startsWith('s3.regions')), 'the bad region name');
    assert.ok(err.problems.some((x) => /colour/.test(x.message) || x.path.includes('colour')), 'the unknown key');
    assert.ok(err.problems.some((x) => /aws-moon/.test(x.message) || x.path.includes('aws-moon')), 'the unknown partition');
    assert.equal(err.code, 'BF_WORKER_CONFIG');
    assert.ok(!err.message.includes('hunter2'), 'the Redis password is not echoed');
  });

  it("reads the API's principals file and job MAC key, naming what is wrong with them, never the key", async () => {
    const dir = await tempDir();
    const { key, cert } = await writeIdentity(dir);
    const file = await writeJson(join(dir, 'worker.json'), { identities: { release: { key, cert } } });
    const principals = await writeJson(join(dir, 'principals.json'), { principals: [{ name: 'ci', identities: ['release'] }] });
    const macKey = 'm'.repeat(40);
    const config = await loadWorkerConfig({ BUNDLEFARM_CONFIG: file, BUNDLEFARM_PRINCIPALS_FILE: principals, BUNDLEFARM_JOB_MAC_KEY: macKey });
    assert.deepEqual(config.principals?.names, ['ci']);
    assert.equal(config.jobMacKey?.toString(), macKey);
    const described = JSON.stringify(describeWorkerConfig(config));
    assert.ok(described.includes('"jobMac":true') && !described.includes(macKey), described);
    const none = await loadWorkerConfig({ BUNDLEFARM_CONFIG: file });
    assert.equal(none.principals, undefined);
    assert.equal(none.jobMacKey, undefined);
    const bad = await writeJson(join(dir, 'bad-principals.json'), { principals: [{ name: 'ci', tokenHashes: ['plain-token'] }] });
    const short = await configError({ BUNDLEFARM_CONFIG: file, BUNDLEFARM_JOB_MAC_KEY: 'short-key' });
    assert.deepEqual(paths(short), ['BUNDLEFARM_JOB_MAC_KEY']);
    assert.ok(!short.message.includes('short-key'), 'the key is not echoed');
    const err = await configError({ BUNDLEFARM_CONFIG: file, BUNDLEFARM_PRINCIPALS_FILE: bad });
    assert.deepEqual(paths(err), ['BUNDLEFARM_PRINCIPALS_FILE']);
    assert.match(err.message, /principals\.0\.tokenHashes\.0/);
    assert.ok(!err.message.includes('plain-token'), 'the value is not echoed');
    const missing = await configError({ BUNDLEFARM_CONFIG: file, BUNDLEFARM_PRINCIPALS_FILE: join(dir, 'nope.json') });
    assert.match(missing.message, /BUNDLEFARM_PRINCIPALS_FILE: .*ENOENT/);
  });

  it('requires BUNDLEFARM_CONFIG, and says so', async () => {
    const err = await configError({});
    assert.deepEqual(paths(err), ['BUNDLEFARM_CONFIG']);
    assert.match(err.message, /is required/);
  });

  it('loads keys at start-up and reports every key, certificate, directory and variable that is wrong', async () => {
    const dir = await tempDir();
    const { key, cert } = await writeIdentity(dir);
    const other = generateSelfSignedIdentity();
    await writeFile(join(dir, 'other-cert.pem'), other.certificatePem);
    const encrypted = testIdentity().privateKey.key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'open sesame' }) as string;
    await writeFile(join(dir, 'encrypted-key.pem'), encrypted);
    await writeFile(join(dir, 'not-a-cert.pem'), 'hello');
    const file = await writeJson(join(dir, 'w.json'), {
      identities: {
        good: { key, cert },
        mismatched: { key, cert: 'other-cert.pem' },
        missing: { key: 'nope.pem', cert },
        locked: { key: 'encrypted-key.pem', cert },
        wrongpass: { key: 'encrypted-key.pem', cert, passphraseEnv: 'WRONG_PASS' },
        nopass: { key: 'encrypted-key.pem', cert, passphraseEnv: 'UNSET_PASS' },
      },
      imageRoot: 'no-such-dir',
      ec2Certificates: { aws: 'not-a-cert.pem' },
      s3: {
        accessKeyIdEnv: 'UNSET_KEY',
        secretAccessKeyEnv: 'SET_SECRET',
        endpoint: 'ftp://example.com',
        regions: { 'us-west-2': { accessKeyIdEnv: 'ONLY_ONE' } },
      },
    });
    const err = await configError({ BUNDLEFARM_CONFIG: file, WRONG_PASS: 'not it', SET_SECRET: 'very-secret-value' });
    const p = paths(err);
    for (const expected of [
      'identities.mismatched',
      'identities.missing',
      'identities.locked',
      'identities.wrongpass',
      'identities.nopass.passphraseEnv',
      'imageRoot',
      'ec2Certificates.aws',
      's3.accessKeyIdEnv',
      's3',
      's3.regions.us-west-2',
    ]) {
      assert.ok(p.includes(expected), `no problem at ${expected} in ${JSON.stringify(err.problems, null, 1)}`);
    }
    assert.ok(!p.includes('identities.good'));
    const byPath = (x: string): string => err.problems.find((q) => q.path === x)!.message;
    assert.match(byPath('identities.mismatched'), /BF_CERT_KEY_MISMATCH/);
    assert.match(byPath('identities.missing'), /ENOENT/);
    assert.match(byPath('identities.locked'), /encrypted and no passphrase/);
    assert.match(byPath('identities.wrongpass'), /passphrase is wrong/);
    assert.match(byPath('identities.nopass.passphraseEnv'), /UNSET_PASS is not set/);
    for (const secret of ['not it', 'very-secret-value', 'open sesame', 'PRIVATE KEY']) assert.ok(!err.message.includes(secret), `${secret} echoed`);
  });

  it('opens an encrypted key with the passphrase from the named variable', async () => {
    const dir = await tempDir();
    const { cert } = await writeIdentity(dir);
    const encrypted = testIdentity().privateKey.key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'open sesame' }) as string;
    await writeFile(join(dir, 'k.pem'), encrypted);
    const file = await writeJson(join(dir, 'w.json'), { identities: { x: { key: 'k.pem', cert, passphraseEnv: 'KEY_PASS' } } });
    const config = await loadWorkerConfig({ BUNDLEFARM_CONFIG: file, KEY_PASS: 'open sesame' });
    assert.ok(config.identities.get('x'));
  });

  it('the worker command exits 78 with every problem on one stderr line', async () => {
    const dir = await tempDir();
    const file = await writeJson(join(dir, 'w.json'), { identities: { a: { key: 'k.pem', cert: 'c.pem' } }, threads: 0 });
    const r = await run(process.execPath, [WORKER_BIN], { env: { PATH: process.env.PATH, BUNDLEFARM_CONFIG: file, BUNDLEFARM_QUEUE_PREFIX: 'a b' } });
    assert.equal(r.code, 78, r.stderr);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^bundlefarm-worker: BF_WORKER_CONFIG: .*BUNDLEFARM_QUEUE_PREFIX: .*threads: /);
  });
});
