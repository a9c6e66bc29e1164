/*
 * A real Redis Cluster of the test's own on free loopback ports: six `redis-server --cluster-enabled
 * yes`, joined with `redis-cli --cluster create … --cluster-replicas 1` (three masters, one replica
 * each). `startRedisCluster` resolves once every node reports `cluster_state:ok`. Needs redis-server and
 * redis-cli (check `clusterAvailable()` in the test's skip option).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { killOnExit, removeOnExit } from './exit-cleanup.js';
import { until } from './poll.js';
import { freePort } from './redis-server.js';
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
  const dir = await mkdtemp(join(tmpdir(), 'bundlefarm-cluster-'));
  removeOnExit(dir);
  const children: ChildProcess[] = [];
  const ports: number[] = [];
  const dispose = async (): Promise<void> => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGKILL');
          }),
      ),
    );
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  };
  try {
    for (let i = 0; i < 6; i++) {
      const port = await freePort();
      ports.push(port);
      const d = join(dir, String(port));
      await mkdir(d);
      const c = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000', '--save', '', '--appendonly', 'no', '--dir', d],
        { stdio: 'ignore' },
      );
      killOnExit(c);
      children.push(c);
    }
    for (const port of ports) await until(`cluster node ${port} to answer`, () => ask(port, async (r) => (await r.ping()) === 'PONG' || undefined), 10_000, 50);
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed (${created.status}): ${created.stdout}${created.stderr}`);
    for (const port of ports) {
      await until(`cluster node ${port} to report cluster_state:ok`, () => ask(port, async (r) => /cluster_state:ok/.test(String(await r.call('CLUSTER', 'INFO'))) || undefined), 60_000, 100);
    }
  } catch (err) {
    await dispose();
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
