/*
 * A real redis-server of the test's own, on a free loopback port. Fault tests can stop, kill and
 * restart it on the same port. By default it keeps nothing on disk (a restart brings back an empty
 * Redis); with `appendOnly` it persists as a deployment must (docs/service.md), so a restart — even
 * after SIGKILL — brings back every write it acknowledged. Started by redis-process.ts, as every Redis
 * of the tests is (reaped at exit, its log quoted when it fails to start).
 */
import { rm } from 'node:fs/promises';
import { launchRedis, NO_PERSISTENCE, redisDir, type RedisProcess } from './redis-process.js';

export { freePort } from './redis-process.js';

export interface TestRedis {
  port: number;
  url: string;
  /** Where the server runs (its AOF directory with `appendOnly`). */
  dir: string;
  /** Stop gracefully (SIGTERM); `restart` brings it back. */
  stop(): Promise<void>;
  /** Stop for good and remove its directory. */
  dispose(): Promise<void>;
  /** SIGKILL the server. */
  kill(): Promise<void>;
  /**
   * Start again on the same port (after stop/kill); resolves once it answers (an AOF is loaded
   * by then). Without `appendOnly` it is an empty Redis; with it, the data it had.
   */
  restart(): Promise<void>;
  readonly running: boolean;
  /** The server's process id while it runs. */
  readonly pid: number | undefined;
  /** What the server logged so far (every start and restart). */
  log(): string;
}

export interface RedisServerOptions {
  /**
   * Persist every write to an append-only file in `dir`, fsynced before Redis answers
   * (`--appendonly yes --appendfsync always`): what survives a crash is exactly what was acknowledged.
   * Default false (`--save '' --appendonly no`).
   */
  appendOnly?: boolean;
  /**
   * More addresses to listen on besides 127.0.0.1 (which `url` names), e.g. root-side addresses that
   * network namespaces reach (protected mode is then off: clients from those addresses are what the
   * test wants). They must exist when the server starts. Default none.
   */
  bind?: readonly string[];
}

export async function startRedis(options: RedisServerOptions = {}): Promise<TestRedis> {
  const dir = await redisDir();
  const extraAddresses = options.bind ?? [];
  // Redis refuses clients from other than loopback in protected mode (no password): the addresses were asked for
  const protectedMode = extraAddresses.length > 0 ? ['--protected-mode', 'no'] : [];
  const persistence = options.appendOnly ? ['--save', '', '--appendonly', 'yes', '--appendfsync', 'always'] : NO_PERSISTENCE;
  const args = [...persistence, ...protectedMode];
  let server: RedisProcess | undefined = await launchRedis({ dir, bind: extraAddresses, args });
  const port = server.port;
  const current = (): RedisProcess | undefined => (server?.running ? server : undefined);
  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    await current()?.terminate(signal);
  };

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get running() {
      return current() !== undefined;
    },
    get pid() {
      return current()?.child.pid;
    },
    log: () => server?.log() ?? '',
    stop: () => terminate('SIGTERM'),
    async dispose() {
      await terminate('SIGTERM');
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    },
    kill: () => terminate('SIGKILL'),
    async restart() {
      server = undefined;
      server = await launchRedis({ dir, port, bind: extraAddresses, args });
    },
  };
}
