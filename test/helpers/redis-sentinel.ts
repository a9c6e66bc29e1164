/*
 * A real Redis Sentinel group of the test's own on free loopback ports: a master, one replica
 * (`--replicaof`) and three sentinels (`redis-server CONF --sentinel`, quorum 2, the master deemed down
 * after 1 s). `ready` resolves once every sentinel sees the replica and the two other sentinels — only
 * then can they agree on a failover. `killMaster` SIGKILLs the master; `failedOver` resolves once the
 * sentinels name the replica as master.
 *
 * Needs redis-server with Sentinel support (any Redis since 2.8; `redis-sentinel` is the same binary):
 * check `sentinelAvailable()` in the test's skip option.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { killOnExit, removeOnExit } from './exit-cleanup.js';
import { until } from './poll.js';
import { freePort } from './redis-server.js';
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
  const dir = await mkdtemp(join(tmpdir(), 'bundlefarm-sentinel-'));
  removeOnExit(dir);
  const children: ChildProcess[] = [];
  const start = (args: string[]): ChildProcess => {
    const c = spawn('redis-server', args, { stdio: 'ignore' });
    killOnExit(c);
    children.push(c);
    return c;
  };
  const server = async (port: number, name: string, extra: string[]): Promise<ChildProcess> => {
    const d = join(dir, name);
    await mkdir(d, { recursive: true });
    return start(['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', d, ...extra]);
  };

  const masterPort = await freePort();
  const replicaPort = await freePort();
  const master = await server(masterPort, 'master', []);
  await answers(masterPort);
  const replica = await server(replicaPort, 'replica', ['--replicaof', '127.0.0.1', String(masterPort)]);
  await answers(replicaPort);

  const sentinelPorts: number[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    sentinelPorts.push(port);
    const conf = join(dir, `sentinel-${i}.conf`);
    // sentinel rewrites its config file (what it learned): it must be its own and writable
    await writeFile(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} 1000`,
        `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 10000`,
        `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
        '',
      ].join('\n'),
    );
    start([conf, '--sentinel']);
  }
  for (const port of sentinelPorts) await answers(port);

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
    pauseReplica: () => void replica.kill('SIGSTOP'),
    async resumeReplica() {
      replica.kill('SIGCONT');
      await inSync();
    },
    async killMaster() {
      if (master.exitCode !== null || master.signalCode !== null) return;
      const exited = new Promise<void>((r) => master.once('exit', () => r()));
      master.kill('SIGKILL');
      await exited;
    },
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
    async dispose() {
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
    },
  };
}

/** Resolves once something answers PING on `port`. */
async function answers(port: number): Promise<void> {
  await until(
    `redis on ${port} to answer`,
    async () => {
      const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => {});
      try {
        await r.connect();
        return (await r.ping()) === 'PONG' || undefined;
      } catch {
        return undefined;
      } finally {
        r.disconnect();
      }
    },
    10_000,
    50,
  );
}
