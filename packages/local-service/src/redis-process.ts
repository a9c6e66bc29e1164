/*
 * The Redis of a local service: `redis-server` as a child process, on loopback, with its append-only
 * file in a directory of the data dir (`appendfsync everysec`, `noeviction`, as docs/service.md asks
 * of any deployment), so jobs survive a restart of the service. Started in a process group of its own:
 * a Ctrl-C at the terminal reaches the supervisor only, which stops Redis last, after the workers
 * that use it. Its own log goes to `redis.log` in that directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { LocalServiceError } from './local-service-error.js';

export interface RedisProcess {
  url: string;
  port: number;
  pid: number;
  /** SIGTERM (Redis flushes its AOF and exits), SIGKILL after `killAfterMs` (default 10 s). */
  stop(killAfterMs?: number): Promise<void>;
}

/** Starts redis-server on `port` (0: a free one) with its files in `dir`; resolves once it answers. */
export async function startRedisProcess(dir: string, port: number): Promise<RedisProcess> {
  for (let attempt = 1; ; attempt++) {
    const chosen = port === 0 ? await freePort('127.0.0.1') : port;
    try {
      return await startOn(dir, chosen);
    } catch (err) {
      // a free port taken before redis-server bound it: another one
      if (port !== 0 || attempt >= 3 || !(err instanceof LocalServiceError) || !/exited/.test(err.message)) throw err;
    }
  }
}

async function startOn(dir: string, port: number): Promise<RedisProcess> {
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--appendonly', 'yes',
    '--appendfsync', 'everysec',
    '--save', '',
    '--maxmemory-policy', 'noeviction',
    '--daemonize', 'no',
    '--logfile', join(dir, 'redis.log'),
  ];
  const child = spawn('redis-server', args, { stdio: 'ignore', detached: true });
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new LocalServiceError('redis-server is not installed (e.g. apt-get install redis-server), or give a Redis to use with --redis URL')
          : new LocalServiceError(`redis-server could not be started: ${err.message}`, { cause: err }),
      ),
    );
    child.once('exit', (code, signal) =>
      reject(new LocalServiceError(`redis-server exited (${signal ?? code}) while starting on port ${port}: is the port taken? (see ${join(dir, 'redis.log')})`)),
    );
  });
  exited.catch(() => {});
  try {
    const pid = await Promise.race([redisAnsweringPid(port, 20_000), exited]);
    if (pid !== child.pid) throw new LocalServiceError(`port ${port} is answered by another Redis (pid ${pid}): choose another --redis-port`);
  } catch (err) {
    await terminate(child, 'SIGKILL', 0);
    throw err;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    stop: (killAfterMs = 10_000) => terminate(child, 'SIGTERM', killAfterMs),
  };
}

async function terminate(child: ChildProcess, signal: NodeJS.Signals, killAfterMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  await gone;
  clearTimeout(timer);
}

/** The process id of the Redis answering on `port`, once it answers `INFO server` (not while it loads its AOF). */
export function redisAnsweringPid(port: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const retry = (): void => {
      if (Date.now() > deadline) reject(new LocalServiceError(`redis-server did not answer on port ${port} within ${timeoutMs / 1000} s`));
      else setTimeout(attempt, 50);
    };
    const attempt = (): void => {
      const socket = connect(port, '127.0.0.1');
      let answer = '';
      let settled = false;
      socket.setTimeout(2_000, () => socket.destroy());
      socket.once('connect', () => socket.write('INFO server\r\n'));
      socket.on('data', (d: Buffer) => {
        answer += d.toString('latin1');
        if (answer.startsWith('-')) {
          if (!answer.includes('\r\n')) return;
          settled = true;
          socket.end();
          retry(); // -LOADING while the AOF is read back
          return;
        }
        const pid = /\r\nprocess_id:(\d+)\r\n/.exec(answer);
        if (!pid) return;
        settled = true;
        socket.end();
        resolve(Number(pid[1]));
      });
      socket.once('error', () => socket.destroy());
      socket.once('close', () => {
        if (!settled) retry();
      });
    };
    attempt();
  });
}
