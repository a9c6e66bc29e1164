import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { describeWorkerConfig, ec2SettingsFor, loadWorkerConfig, WorkerConfigError } from '@bundlefarm/queue/worker';
import { writeIdentity } from '@bundlefarm/testkit/identity.js';
import { tempDir } from '@bundlefarm/testkit/temp-dir.js';
import { writeJson } from './worker-fixture.js';

/** The worker's `ec2` section: EC2 endpoints and credentials per region for registering AMIs; no secret echoed. */

async function fileWith(extra: Record<string, unknown>): Promise<string> {
  const dir = await tempDir();
  await writeIdentity(dir);
  return writeJson(join(dir, 'worker.json'), { identities: { release: { key: 'user-key.pem', cert: 'user-cert.pem' } }, ...extra });
}

describe('worker configuration: ec2', () => {
  it('defaults to AWS endpoints; inherits the s3 static credentials; per-region endpoints and credentials', async () => {
    const none = await loadWorkerConfig({ BUNDLEFARM_CONFIG: await fileWith({}) });
    assert.deepEqual(none.ec2, { defaults: {}, regions: {} });
    assert.deepEqual(ec2SettingsFor(none.ec2, 'eu-west-1'), { region: 'eu-west-1' });

    const file = await fileWith({
      s3: { accessKeyIdEnv: 'S3_ID', secretAccessKeyEnv: 'S3_SECRET' },
      ec2: { maxAttempts: 2, regions: { 'us-gov-west-1': { endpoint: 'http://127.0.0.1:9', accessKeyIdEnv: 'GOV_ID', secretAccessKeyEnv: 'GOV_SECRET' }, 'eu-west-1': { endpoint: 'http://127.0.0.1:8' } } },
    });
    const config = await loadWorkerConfig({ BUNDLEFARM_CONFIG: file, S3_ID: 'AKIAS3', S3_SECRET: 's3-secret-value', GOV_ID: 'AKIAGOV', GOV_SECRET: 'gov-secret-value' });
    assert.deepEqual(ec2SettingsFor(config.ec2, 'us-east-1'), { region: 'us-east-1', maxAttempts: 2, credentials: { accessKeyId: 'AKIAS3', secretAccessKey: 's3-secret-value' } });
    assert.deepEqual(ec2SettingsFor(config.ec2, 'eu-west-1'), {
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:8',
      maxAttempts: 2,
      credentials: { accessKeyId: 'AKIAS3', secretAccessKey: 's3-secret-value' },
    });
    assert.deepEqual(ec2SettingsFor(config.ec2, 'us-gov-west-1'), {
      region: 'us-gov-west-1',
      endpoint: 'http://127.0.0.1:9',
      maxAttempts: 2,
      credentials: { accessKeyId: 'AKIAGOV', secretAccessKey: 'gov-secret-value' },
    });
    const described = JSON.stringify(describeWorkerConfig(config));
    assert.ok(described.includes('http://127.0.0.1:9'));
    assert.ok(!described.includes('secret-value'), 'no credential in the start-up line');
  });

  it('names every problem of the section with its path, never a value', async () => {
    const badShape = await fileWith({ ec2: { regions: { 'eu-west-1': { maxAttempts: 0 } }, region: 'x' } });
    await assert.rejects(loadWorkerConfig({ BUNDLEFARM_CONFIG: badShape }), (err: unknown) => {
      assert.ok(err instanceof WorkerConfigError, String(err));
      assert.deepEqual(err.problems.map((p) => p.path).sort(), ['ec2', 'ec2.regions.eu-west-1.maxAttempts']);
      return true;
    });
    const file = await fileWith({ ec2: { endpoint: 'ftp://x', accessKeyIdEnv: 'ONLY_ID', regions: { 'us-east-1': { accessKeyIdEnv: 'A', secretAccessKeyEnv: 'B' } } } });
    await assert.rejects(loadWorkerConfig({ BUNDLEFARM_CONFIG: file, A: 'set-but-secret-missing' }), (err: unknown) => {
      assert.ok(err instanceof WorkerConfigError, String(err));
      const paths = err.problems.map((p) => p.path);
      assert.ok(paths.includes('ec2'), paths.join());
      assert.ok(paths.includes('ec2.regions.us-east-1.secretAccessKeyEnv'), paths.join());
      assert.match(err.message, /ec2: give both accessKeyIdEnv and secretAccessKeyEnv/);
      assert.match(err.message, /environment variable B is not set/);
      assert.ok(!err.message.includes('set-but-secret-missing'));
      return true;
    });
  });
});
