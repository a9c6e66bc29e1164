/*
 * A real Redis Cluster of the test's own on free loopback ports: six `redis-server --cluster-enabled
 * yes`, joined with `redis-cli --cluster create … --cluster-replicas 1` (three masters, one replica
 * each). `startRedisCluster` resolves once every node reports `cluster_state:ok`. Needs redis-server and
 * redis-cli (check `clusterAvailable()` in the test's skip option). Each node is started by
 * redis-process.ts (free port, a directory of its own, reaped at exit, its log quoted on failure).
 */
import { spawnSync } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { until } from './poll.js';
import { launchRedis, NO_PERSISTENCE, redisDir, type RedisProcess } from './redis-process.js';
import { hasCommand } from './requirements.js';

export interface TestRedisCluster {
  /** redis+cluster://127.0.0.1:P1,…,127.0.0.1:P6 */
  url: string;
  ports: number[];
  /** Stops every node and removes their directory. */
  dispose(): Promise<void>;
}

export function clusterAvailable(): boolean {
  return hasCommand('redis-server') && hasCommand('redis-cli');
}

export async function startRedisCluster(): Promise<TestRedisCluster> {
  const dir = await redisDir('bundlefarm-cluster-');
  const nodes: RedisProcess[] = [];
  const ports: number[] = [];
  const dispose = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.terminate('SIGKILL')));
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  };
  try {
    for (let i = 0; i < 6; i++) {
      const d = join(dir, `node-${i}`);
      await mkdir(d);
      const node = await launchRedis({
        dir: d,
        name: `cluster-node-${i}`,
        args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000', ...NO_PERSISTENCE],
      });
      nodes.push(node);
      ports.push(node.port);
    }
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed (${created.status}): ${created.stdout}${created.stderr}`);
    for (const port of ports) {
      await until(`cluster node ${port} to report cluster_state:ok`, () => ask(port, async (r) => /cluster_state:ok/.test(String(await r.call('CLUSTER', 'INFO'))) || undefined), 60_000, 100);
    }
  } catch (err) {
    // what the nodes said, for a cluster that did not form (a node that did not start quotes its own log)
    const logs = nodes.map((n) => `--- cluster node ${n.port} (${n.logFile}):\n${n.log().split('\n').slice(-10).join('\n')}`).join('\n');
    await dispose();
    if (err instanceof Error && logs !== '') err.message += `\n${logs}`;
    throw err;
  }
  return { url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`, ports, dispose };
}

async function ask<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T | undefined> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    return await fn(r);
  } catch {
    return undefined;
  } finally {
    r.disconnect();
  }
}
