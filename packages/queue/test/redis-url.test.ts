import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BundleProducer, CLUSTER_DEFAULT_PREFIX, parseRedisUrl, redactRedisUrl, RedisUrlError, resolveQueuePrefix } from '@bundlefarm/queue';
import { loadWorkerConfig, WorkerConfigError } from '@bundlefarm/queue/worker';
import { serverConfigFromEnv, ServerConfigError } from '@bundlefarm/server';

/**
 * BUNDLEFARM_REDIS_URL, one parser for the worker, the API and the producer: a single Redis, a
 * Sentinel group (redis+sentinel://…) turned into the sentinels to ask and the master's name, or a
 * Redis Cluster (redis+cluster://…) whose queue prefix must have a hash tag; anything else a one-line
 * error that names what is wrong and never echoes the password.
 */
describe('Redis URLs', () => {
  it('a single Redis passes as it is', () => {
    assert.deepEqual(parseRedisUrl('redis://:pw@10.0.0.5:6380/2'), { kind: 'standalone', url: 'redis://:pw@10.0.0.5:6380/2' });
    assert.equal(parseRedisUrl('rediss://cache.example.com:6380').kind, 'standalone');
  });

  it('a Sentinel URL names the sentinels, the master, its password and database', () => {
    assert.deepEqual(parseRedisUrl('redis+sentinel://:p%40ss@s1:26379,10.0.0.2:26380,[::1]:26381/farm-master?db=3'), {
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: '10.0.0.2', port: 26380 },
        { host: '::1', port: 26381 },
      ],
      name: 'farm-master',
      password: 'p@ss',
      db: 3,
    });
    assert.deepEqual(parseRedisUrl('redis+sentinel://s1:26379/mymaster'), { kind: 'sentinel', sentinels: [{ host: 's1', port: 26379 }], name: 'mymaster', db: 0 });
  });

  it('refuses what names no deployment, saying why without the password', () => {
    const cases: Array<[string, RegExp]> = [
      ['http://:hunter2@localhost', /must be one of redis:\/\//],
      ['redis+sentinel://:hunter2@s1:26379', /names no master/],
      ['redis+sentinel://:hunter2@s1:26379/', /names no usable master/],
      ['redis+sentinel://:hunter2@s1/mymaster', /sentinel that is not host:port/],
      ['redis+sentinel://:hunter2@s1:99999/mymaster', /sentinel that is not host:port/],
      ['redis+sentinel://:hunter2@s1:26379,/mymaster', /sentinel that is not host:port/],
      ['redis+sentinel://:hunter2@s1:26379/mymaster?db=x', /db that is not a database number/],
      ['redis+sentinel://:hunter2@s1:26379/mymaster?role=slave', /unknown parameter "role"/],
      ['redis://', /is not a URL|names no host/],
    ];
    for (const [url, message] of cases) {
      assert.throws(() => parseRedisUrl(url), (err: unknown) => {
        assert.ok(err instanceof RedisUrlError, url);
        assert.match(err.message, message, url);
        assert.ok(!err.message.includes('hunter2') && !err.message.includes('\n'), err.message);
        return true;
      });
    }
  });

  it('redacts the password of either form for logs', () => {
    assert.equal(redactRedisUrl('redis+sentinel://:hunter2@s1:26379,s2:26379/m'), 'redis+sentinel://:***@s1:26379,s2:26379/m');
    assert.equal(redactRedisUrl('redis://:hunter2@h:6379/2'), 'redis://:***@h:6379/2');
    assert.equal(redactRedisUrl('redis://farm:hunter2@h:6379/2'), 'redis://***:***@h:6379/2');
    assert.equal(redactRedisUrl('redis://h:6379'), 'redis://h:6379');
  });

  it('the worker, the API and the producer accept and refuse the same URLs', async () => {
    const good = 'redis+sentinel://:pw@127.0.0.1:26379,127.0.0.1:26380/mymaster?db=1';
    const bad = 'redis+sentinel://:hunter2@127.0.0.1:26379';
    assert.equal(serverConfigFromEnv({ BUNDLEFARM_API_TOKENS: 'a'.repeat(16), BUNDLEFARM_REDIS_URL: good }).config.redisUrl, good);
    assert.throws(
      () => serverConfigFromEnv({ BUNDLEFARM_API_TOKENS: 'a'.repeat(16), BUNDLEFARM_REDIS_URL: bad }),
      (err: unknown) => err instanceof ServerConfigError && /BUNDLEFARM_REDIS_URL.*names no master/.test(err.message) && !err.message.includes('hunter2'),
    );
    // the worker reports the URL among its problems (the missing config file is another)
    for (const [url, refused] of [
      [good, false],
      [bad, true],
    ] as const) {
      try {
        await loadWorkerConfig({ BUNDLEFARM_REDIS_URL: url });
        assert.fail('no config file: refused');
      } catch (err) {
        assert.ok(err instanceof WorkerConfigError, String(err));
        const problem = err.problems.find((p) => p.path === 'BUNDLEFARM_REDIS_URL');
        assert.equal(problem !== undefined, refused, JSON.stringify(err.problems));
        if (problem) assert.match(problem.message, /names no master/);
      }
    }
    assert.throws(() => new BundleProducer({ redisUrl: bad }), /redisUrl.*names no master/);
  });

  it('a cluster URL names some nodes; its queue prefix must have a hash tag, {bundlefarm} by default', async () => {
    assert.deepEqual(parseRedisUrl('redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001'), {
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
      ],
      password: 'pw',
    });
    assert.throws(() => parseRedisUrl('redis+cluster://10.0.0.1:7000/2'), /a cluster has database 0 only/);
    const cluster = 'redis+cluster://127.0.0.1:7000';
    assert.equal(resolveQueuePrefix(cluster, undefined), CLUSTER_DEFAULT_PREFIX);
    assert.equal(resolveQueuePrefix(cluster, 'farm-{eu}'), 'farm-{eu}');
    assert.equal(resolveQueuePrefix('redis://127.0.0.1:6379', undefined), 'bundlefarm');
    for (const prefix of ['bundlefarm', 'farm{}', 'farm}{x']) assert.throws(() => resolveQueuePrefix(cluster, prefix), /must contain a hash tag/, prefix);

    // the API and the worker: the default, and the error naming the variable
    const api = (env: Record<string, string>) => serverConfigFromEnv({ BUNDLEFARM_API_TOKENS: 'a'.repeat(16), BUNDLEFARM_REDIS_URL: cluster, ...env });
    assert.equal(api({}).config.queuePrefix, CLUSTER_DEFAULT_PREFIX);
    assert.throws(() => api({ BUNDLEFARM_QUEUE_PREFIX: 'bundlefarm' }), /BUNDLEFARM_QUEUE_PREFIX: must contain a hash tag/);
    assert.throws(() => api({ BUNDLEFARM_REDIS_WAIT_REPLICAS: '1' }), /BUNDLEFARM_REDIS_WAIT_REPLICAS: must be 0 with a Redis Cluster/);
    try {
      await loadWorkerConfig({ BUNDLEFARM_REDIS_URL: cluster, BUNDLEFARM_QUEUE_PREFIX: 'bundlefarm', BUNDLEFARM_CONFIG: '/nonexistent/worker.json' });
      assert.fail('refused');
    } catch (err) {
      assert.ok(err instanceof WorkerConfigError, String(err));
      assert.match(err.problems.find((p) => p.path === 'BUNDLEFARM_QUEUE_PREFIX')?.message ?? '', /must contain a hash tag/);
    }
    assert.throws(() => new BundleProducer({ redisUrl: cluster, prefix: 'bundlefarm' }), /prefix.*must contain a hash tag/);
    assert.throws(() => new BundleProducer({ redisUrl: cluster, waitReplicas: 1 }), /waitReplicas.*must be 0 with a Redis Cluster/);
  });
});
