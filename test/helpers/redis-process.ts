/*
 * The one way the tests start a redis-server process — a plain server (redis-server.ts), a cluster
 * node (redis-cluster.ts), a replica or a sentinel (redis-sentinel.ts): on a free loopback port (another
 * one when a port turns out taken), in a directory of the test's own (a fresh temporary one unless given),
 * the process registered with the exit reaper (exit-cleanup.ts) so it never outlives the test file, and
 * its output (Redis logs to stdout) appended to a log file that every start failure quotes.
 *
 * Started means: the server answering on the port is this process (`INFO server` names its process id;
 * not while an AOF is still loading, when Redis answers -LOADING). A port freePort found free is free
 * only until someone else binds it (another test's server, a client's ephemeral port): then the child
 * exits at once or a foreign server answers — either way an error, never a test talking to another
 * test's Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killOnExit, removeOnExit } from './exit-cleanup.js';
import { redisAnsweringPid } from '@bundlefarm/local-service';

/** Nothing on disk: no RDB snapshots, no AOF (a restart brings back an empty Redis). */
export const NO_PERSISTENCE: readonly string[] = ['--save', '', '--appendonly', 'no'];

export interface RedisLaunchOptions {
  /** Arguments after the config file and the port, bind and dir options (e.g. NO_PERSISTENCE, `--replicaof H P`, `--sentinel`). Default none. */
  args?: readonly string[];
  /** A config file, given first (a sentinel's: Sentinel rewrites it, so it must be the process's own and writable). Default none. */
  configFile?: string;
  /** The port; default a free loopback port, and another one (3 tries in all) when that one turns out taken. */
  port?: number;
  /** The server's directory (`--dir`, and where the log goes); default a fresh temporary one, removed at exit. */
  dir?: string;
  /** More addresses to listen on besides 127.0.0.1 (they must exist). Default none. */
  bind?: readonly string[];
  /** How errors and the log file name the process (default `redis-server`). */
  name?: string;
  /** How long it may take to answer (default 10 s). */
  timeoutMs?: number;
}

export interface RedisProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly dir: string;
  /** Where the process's output goes (appended: a restart on the same file adds to it). */
  readonly logFile: string;
  /** The log so far (empty when it cannot be read). */
  log(): string;
  readonly running: boolean;
  /** Sends `signal` and resolves once the process has exited (at once if it had). */
  terminate(signal: NodeJS.Signals): Promise<void>;
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

/** A fresh temporary directory for Redis processes, removed when the test process ends (however it ends). */
export async function redisDir(prefix = 'bundlefarm-redis-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  removeOnExit(dir);
  return dir;
}

/** Starts redis-server as `options` say; resolves once it answers on its port as itself. */
export async function launchRedis(options: RedisLaunchOptions = {}): Promise<RedisProcess> {
  const dir = options.dir ?? (await redisDir());
  if (options.port !== undefined) return startOn(options.port, dir, options);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOn(await freePort(), dir, options);
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

async function startOn(port: number, dir: string, options: RedisLaunchOptions): Promise<RedisProcess> {
  const name = options.name ?? 'redis-server';
  const logFile = join(dir, `${name.replace(/[^\w.-]+/g, '-')}.log`);
  const argv = [
    ...(options.configFile !== undefined ? [options.configFile] : []),
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    ...(options.bind ?? []),
    '--dir',
    dir,
    ...(options.args ?? []),
  ];
  const out = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn('redis-server', argv, { stdio: ['ignore', out, out] });
  } finally {
    closeSync(out); // the child has its own copy
  }
  killOnExit(child);
  const log = (): string => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const exitedOnce = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    if (running()) child.kill(signal);
    await exitedOnce;
  };
  const failed = (why: string): Error => new Error(`${name} on port ${port} ${why}; its log (${logFile}):\n${log().split('\n').slice(-20).join('\n')}`);

  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => reject(failed(`exited (${signal ?? code}) while starting: port taken?`))),
  );
  exited.catch(() => {});
  child.once('error', () => {}); // no redis-server: the 'exit' above says so
  let pid: number;
  try {
    pid = await Promise.race([redisAnsweringPid(port, options.timeoutMs ?? 10_000), exited]);
  } catch (err) {
    await terminate('SIGKILL');
    throw err instanceof Error && err.message.includes('its log') ? err : failed(err instanceof Error ? err.message : String(err));
  }
  if (pid !== child.pid) {
    await terminate('SIGKILL');
    throw failed(`is answered by another redis-server (pid ${pid}), not ours (pid ${child.pid})`);
  }
  return {
    child,
    port,
    dir,
    logFile,
    log,
    get running() {
      return running();
    },
    terminate,
  };
}

