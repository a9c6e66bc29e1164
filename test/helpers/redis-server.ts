import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killOnExit, removeOnExit } from './exit-cleanup.js';

/**
 * A real redis-server of the test's own, on a free loopback port. Fault tests can stop, kill and
 * restart it on the same port. By default it keeps nothing on disk (a restart brings back an empty
 * Redis); with `appendOnly` it persists as a deployment must (docs/service.md), so a restart — even
 * after SIGKILL — brings back every write it acknowledged.
 */
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

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Resolves with the process id of the server answering on `port` once it answers (`INFO server`; not
 * while it is still loading its AOF, when it says -LOADING).
 */
function waitForServer(port: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const retry = (): void => {
      if (Date.now() > deadline) reject(new Error(`redis-server did not answer on ${port} within ${timeoutMs} ms`));
      else setTimeout(attempt, 50);
    };
    const attempt = (): void => {
      const sock = connect(port, '127.0.0.1');
      let answer = '';
      let settled = false;
      sock.setTimeout(2_000, () => sock.destroy());
      sock.once('connect', () => sock.write('INFO server\r\n'));
      sock.on('data', (d: Buffer) => {
        answer += d.toString('latin1');
        if (answer.startsWith('-')) {
          if (!answer.includes('\r\n')) return;
          settled = true;
          sock.end();
          retry(); // -LOADING while the AOF is read back
          return;
        }
        const pid = /\r\nprocess_id:(\d+)\r\n/.exec(answer);
        if (!pid) return;
        settled = true;
        sock.end();
        resolve(Number(pid[1]));
      });
      sock.once('error', () => sock.destroy());
      sock.once('close', () => {
        if (!settled) retry();
      });
    };
    attempt();
  });
}

export async function startRedis(options: RedisServerOptions = {}): Promise<TestRedis> {
  let port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'bundlefarm-redis-'));
  removeOnExit(dir);
  const extraAddresses = options.bind ?? [];
  // Redis refuses clients from other than loopback in protected mode (no password): the addresses were asked for
  const protectedMode = extraAddresses.length > 0 ? ['--protected-mode', 'no'] : [];
  const persistence = options.appendOnly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  let child: ChildProcess | undefined;

  /**
   * Starts redis-server on `port`; resolves once the server answering there is this child. freePort's
   * port is free only until someone else binds it (another test's server, a client's ephemeral port):
   * then the child exits at once, or a foreign server would answer — either way an error, never a
   * test talking to another test's Redis.
   */
  const startOn = async (): Promise<void> => {
    const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', ...extraAddresses, '--save', '', ...persistence, ...protectedMode, '--dir', dir], {
      stdio: 'ignore',
    });
    killOnExit(c);
    child = c;
    const exited = new Promise<never>((_, reject) =>
      c.once('exit', (code, signal) => {
        if (child === c) child = undefined;
        reject(new Error(`redis-server on port ${port} exited (${signal ?? code}) while starting: port taken?`));
      }),
    );
    exited.catch(() => {});
    const pid = await Promise.race([waitForServer(port, 10_000), exited]);
    if (pid !== c.pid) {
      c.kill('SIGKILL');
      throw new Error(`port ${port} is answered by another redis-server (pid ${pid}), not ours (pid ${c.pid})`);
    }
  };

  /** First start: on a taken port, try another free one. */
  const firstStart = async (): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await startOn();
      } catch (err) {
        if (attempt >= 3) throw err;
        port = await freePort();
      }
    }
  };

  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    const c = child;
    if (!c) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill(signal);
    await exited;
  };

  await firstStart();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get running() {
      return child !== undefined;
    },
    get pid() {
      return child?.pid;
    },
    stop: () => terminate('SIGTERM'),
    async dispose() {
      await terminate('SIGTERM');
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    },
    kill: () => terminate('SIGKILL'),
    restart: startOn,
  };
}
