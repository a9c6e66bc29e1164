/*
 * A real Redis Sentinel group of the test's own on free loopback ports: a master, one replica
 * (`--replicaof`) and three sentinels (`redis-server CONF --sentinel`, quorum 2, the master deemed down
 * after 1 s). `ready` resolves once every sentinel sees the replica and the two other sentinels — only
 * then can they agree on a failover. `killMaster` SIGKILLs the master; `failedOver` resolves once the
 * sentinels name the replica as master.
 *
 * Needs redis-server with Sentinel support (any Redis since 2.8; `redis-sentinel` is the same binary):
 * check `sentinelAvailable()` in the test's skip option. Every process is started by redis-process.ts
 * (free port, reaped at exit, its log quoted when it fails to start).
 */
import { spawnSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { until } from './poll.js';
import { launchRedis, NO_PERSISTENCE, redisDir, type RedisProcess } from './redis-process.js';
import { hasCommand } from './requirements.js';

export const SENTINEL_MASTER_NAME = 'bfmaster';

export interface SentinelGroup {
  /** redis+sentinel://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/bfmaster */
  url: string;
  masterPort: number;
  replicaPort: number;
  sentinelPorts: number[];
  /** SIGSTOP the replica: it acknowledges nothing (WAIT times out) until `resumeReplica`. */
  pauseReplica(): void;
  /** SIGCONT the replica; resolves once it has caught up with the master. */
  resumeReplica(): Promise<void>;
  /** SIGKILL the master. */
  killMaster(): Promise<void>;
  /** Resolves with the port the sentinels name as master once it is not `formerPort`. */
  failedOver(formerPort: number, timeoutMs?: number): Promise<number>;
  /** Stops every process and removes their directory. */
  dispose(): Promise<void>;
}

/** Whether this machine can run Sentinel: redis-sentinel, or a redis-server that knows --sentinel. */
export function sentinelAvailable(): boolean {
  if (hasCommand('redis-sentinel')) return true;
  if (!hasCommand('redis-server')) return false;
  // redis-server --sentinel without a config file refuses to start, naming the config file it lacks
  const r = spawnSync('redis-server', ['--sentinel'], { encoding: 'utf8', timeout: 5_000 });
  return /sentinel/i.test(`${r.stdout}${r.stderr}`);
}

export async function startSentinelGroup(): Promise<SentinelGroup> {
  const dir = await redisDir('bundlefarm-sentinel-');
  const processes: RedisProcess[] = [];
  const dispose = async (): Promise<void> => {
    await Promise.all(processes.map((p) => p.terminate('SIGKILL')));
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  };
  const start = async (name: string, options: { args: string[]; configFile?: string }): Promise<RedisProcess> => {
    const d = join(dir, name);
    await mkdir(d, { recursive: true });
    const p = await launchRedis({ ...options, dir: d, name });
    processes.push(p);
    return p;
  };

  try {
    return await formGroup();
  } catch (err) {
    // what the processes said, for a group that did not form (one that did not start quotes its own log)
    const logs = processes.map((p) => `--- ${p.logFile}:\n${p.log().split('\n').slice(-10).join('\n')}`).join('\n');
    await dispose();
    if (err instanceof Error && logs !== '') err.message += `\n${logs}`;
    throw err;
  }

  async function formGroup(): Promise<SentinelGroup> {
    const master = await start('master', { args: [...NO_PERSISTENCE] });
    const masterPort = master.port;
    const replica = await start('replica', { args: [...NO_PERSISTENCE, '--replicaof', '127.0.0.1', String(masterPort)] });
    const replicaPort = replica.port;

    const sentinelPorts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const conf = join(dir, `sentinel-${i}.conf`);
      // sentinel rewrites its config file (what it learned): it must be its own and writable
      await writeFile(
        conf,
        [
          `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} 1000`,
          `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 10000`,
          `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
          '',
        ].join('\n'),
      );
      sentinelPorts.push((await start(`sentinel-${i}`, { configFile: conf, args: ['--sentinel'] })).port);
    }

    const ask = async <T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T | undefined> => {
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
    };
    // every sentinel knows the replica and the two others: a failover can be agreed on
    for (const port of sentinelPorts) {
      await until(
        `sentinel ${port} to see the replica and two other sentinels`,
        () =>
          ask(port, async (r) => {
            const fields = (await r.call('SENTINEL', 'MASTER', SENTINEL_MASTER_NAME)) as string[];
            const info = new Map<string, string>();
            for (let i = 0; i + 1 < fields.length; i += 2) info.set(fields[i]!, fields[i + 1]!);
            return info.get('num-slaves') === '1' && info.get('num-other-sentinels') === '2' ? true : undefined;
          }),
        60_000,
        100,
      );
    }
    // and the replica is in sync with the master
    const inSync = (): Promise<true> =>
      until(
        'the replica to be in sync',
        async () => {
          const masterOffset = await ask(masterPort, async (r) => /master_repl_offset:(\d+)/.exec(await r.info('replication'))?.[1]);
          const replicaInfo = await ask(replicaPort, (r) => r.info('replication'));
          const replicaOffset = /slave_repl_offset:(\d+)/.exec(replicaInfo ?? '')?.[1];
          return (/master_link_status:up/.test(replicaInfo ?? '') && masterOffset !== undefined && masterOffset === replicaOffset) || undefined;
        },
        30_000,
        100,
      );
    await inSync();

    return {
      url: `redis+sentinel://${sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/${SENTINEL_MASTER_NAME}`,
      masterPort,
      replicaPort,
      sentinelPorts,
      pauseReplica: () => void replica.child.kill('SIGSTOP'),
      async resumeReplica() {
        replica.child.kill('SIGCONT');
        await inSync();
      },
      killMaster: () => master.terminate('SIGKILL'),
      failedOver: (formerPort, timeoutMs = 60_000) =>
        until(
          'the sentinels to promote another master',
          async () => {
            for (const port of sentinelPorts) {
              const addr = await ask(port, (r) => r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER_NAME) as Promise<string[] | null>);
              const p = Number(addr?.[1]);
              if (addr && p !== formerPort) return p;
            }
            return undefined;
          },
          timeoutMs,
          100,
        ),
      dispose,
    };
  }
}
