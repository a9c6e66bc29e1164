import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real redis-server of the test's own, on a free loopback port, keeping nothing on disk. Fault tests
 * can stop, kill and restart it on the same port.
 */
export interface TestRedis {
  port: number;
  url: string;
  /** Stop gracefully (nothing is persisted anyway); `restart` brings it back. */
  stop(): Promise<void>;
  /** Stop for good and remove its directory. */
  dispose(): Promise<void>;
  /** SIGKILL the server. */
  kill(): Promise<void>;
  /** Start again on the same port (after stop/kill): an empty Redis. */
  restart(): Promise<void>;
  readonly running: boolean;
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

function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const sock = connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.end();
        resolve();
      });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() > deadline) reject(new Error(`redis-server did not listen on ${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'bundlefarm-redis-'));
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: 'ignore',
    });
    child.once('exit', () => {
      child = undefined;
    });
    await waitForPort(port, 10_000);
  };

  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    const c = child;
    if (!c) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill(signal);
    await exited;
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== undefined;
    },
    stop: () => terminate('SIGTERM'),
    async dispose() {
      await terminate('SIGTERM');
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    },
    kill: () => terminate('SIGKILL'),
    restart: start,
  };
}
