import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkServerConfig, serverConfigFromEnv, ServerConfigError, toErrorResponse, HTTP_STATUS_BY_CODE } from '@bundlefarm/server';
import { ImageTooLargeError } from '@bundlefarm/errors';

describe('server configuration from the environment', () => {
  it('reads every setting, with defaults', () => {
    const { config, listen } = serverConfigFromEnv({
      BUNDLEFARM_API_TOKENS: 'aaaaaaaaaaaaaaaa1, bbbbbbbbbbbbbbbb2',
      BUNDLEFARM_GITHUB_WEBHOOK_SECRETS: 'cccccccccccccccc3',
      BUNDLEFARM_REDIS_URL: 'redis://redis:6379/2',
      BUNDLEFARM_QUEUE_PREFIX: '{bundlefarm}',
      BUNDLEFARM_BODY_LIMIT: '32768',
      BUNDLEFARM_ADMIN_USER: 'admin',
      BUNDLEFARM_ADMIN_PASSWORD: 'a-long-password',
      BUNDLEFARM_BOARD_READ_ONLY: 'true',
      BUNDLEFARM_S3_ENDPOINT: 'http://minio:9000',
      BUNDLEFARM_S3_FORCE_PATH_STYLE: 'yes',
      BUNDLEFARM_API_PORT: '9090',
    });
    assert.deepEqual(config.apiTokens, ['aaaaaaaaaaaaaaaa1', 'bbbbbbbbbbbbbbbb2']);
    assert.deepEqual(config.githubWebhookSecrets, ['cccccccccccccccc3']);
    assert.deepEqual(config.gitlabWebhookTokens, []);
    assert.equal(config.queuePrefix, '{bundlefarm}');
    assert.equal(config.bodyLimit, 32768);
    assert.equal(config.webhookBodyLimit, 1024 * 1024);
    assert.equal(config.boardReadOnly, true);
    assert.deepEqual(config.admin, { user: 'admin', password: 'a-long-password' });
    assert.deepEqual(config.s3, { region: 'us-east-1', endpoint: 'http://minio:9000', forcePathStyle: true });
    assert.deepEqual(listen, { host: '0.0.0.0', port: 9090 });
    const scoped = serverConfigFromEnv({ BUNDLEFARM_PRINCIPALS_FILE: '/etc/bundlefarm/principals.json', BUNDLEFARM_JOB_MAC_KEY: 'k'.repeat(32), BUNDLEFARM_WEBHOOK_BUFFER_BUDGET: '8388608' });
    assert.deepEqual(scoped.config.apiTokens, [], 'no legacy tokens needed with a principals file');
    assert.equal(scoped.config.principalsFile, '/etc/bundlefarm/principals.json');
    assert.equal(scoped.config.webhookBufferBudget, 8 * 1024 * 1024);
    assert.equal(scoped.config.webhookBodyTimeoutMs, 10_000);
    const none = serverConfigFromEnv({ BUNDLEFARM_API_TOKENS: 'aaaaaaaaaaaaaaaa1' });
    assert.equal(none.config.s3, undefined, 'no S3 settings: no S3 size check');
    assert.equal(none.config.redisUrl, 'redis://127.0.0.1:6379');
  });

  it('names every problem by its variable, never echoing a value', () => {
    try {
      serverConfigFromEnv({
        BUNDLEFARM_API_TOKENS: 'short-secret',
        BUNDLEFARM_REDIS_URL: 'http://x',
        BUNDLEFARM_BODY_LIMIT: 'lots',
        BUNDLEFARM_ADMIN_USER: 'admin',
        BUNDLEFARM_BOARD_READ_ONLY: 'maybe',
      });
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof ServerConfigError);
      assert.equal(err.code, 'BF_BAD_CONFIG');
      for (const name of ['BUNDLEFARM_API_TOKENS', 'BUNDLEFARM_REDIS_URL', 'BUNDLEFARM_BODY_LIMIT', 'BUNDLEFARM_ADMIN_PASSWORD', 'BUNDLEFARM_BOARD_READ_ONLY']) {
        assert.ok(err.message.includes(name), `${name} in ${err.message}`);
      }
      assert.ok(!err.message.includes('short-secret'), 'no value echoed');
    }
    assert.throws(() => serverConfigFromEnv({}), /at least one API token or a principals file/);
    assert.throws(() => serverConfigFromEnv({ BUNDLEFARM_PRINCIPALS_FILE: '/p.json', BUNDLEFARM_JOB_MAC_KEY: 'short' }), /BUNDLEFARM_JOB_MAC_KEY: each job MAC key must have at least 32/);
    assert.throws(() => checkServerConfig({ apiTokens: ['x'.repeat(16)], unknown: 1 } as never), /BF_BAD_CONFIG|Unrecognized/);
  });
});

describe('error mapping', () => {
  it('gives every registered code its status and BundlefarmErrors their code', () => {
    assert.equal(HTTP_STATUS_BY_CODE.BF_UNAUTHORIZED, 401);
    const r = toErrorResponse(new ImageTooLargeError('x.img', 11 * 2 ** 30), 1024);
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'BF_IMAGE_TOO_LARGE');
    assert.equal(r.body.details?.size, 11 * 2 ** 30);
    const internal = toErrorResponse(new Error('secret internals at /srv/x'), 1024);
    assert.equal(internal.status, 500);
    assert.equal(internal.body.error, 'BF_INTERNAL');
    assert.ok(!internal.body.message.includes('/srv/x'), 'internal details stay in the log');
    const fastify = toErrorResponse(Object.assign(new Error('too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }), 2048);
    assert.equal(fastify.status, 413);
    assert.equal(fastify.body.error, 'BF_BODY_TOO_LARGE');
  });
});
