import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { killOnExit } from './exit-cleanup.js';
import { REPO } from './fixtures.js';

/** The service's executables (configured through BUNDLEFARM_* variables and, for the worker, a file). */
export const API_BIN = join(REPO, 'apps', 'api', 'bin', 'bundlefarm-api.js');
export const WORKER_BIN = join(REPO, 'apps', 'worker', 'bin', 'bundlefarm-worker.js');

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnedProcess {
  readonly child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** The complete output lines that are JSON objects (pino log records). */
  records(): Array<Record<string, unknown>>;
  /** Resolves with the first line matching (earlier output included); rejects after `timeoutMs` or when the process exits. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  readonly exited: Promise<ProcessExit>;
  /** Sends `signal` (default SIGTERM) and waits for the exit; SIGKILL if it takes longer than `killAfterMs` (when there is one). */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<ProcessExit>;
}

export interface SpawnOptions {
  /** `waitForLog`'s timeout when a call gives none (default 30 s). */
  defaultTimeoutMs?: number;
  /** `stop`'s wait before SIGKILL when a call gives none (default: none, `stop` waits as long as it takes). */
  killAfterMs?: number;
  /** How failures name the process (default: the script's path). */
  name?: string;
  /**
   * A command prefix the node process runs under, e.g. `['ip', 'netns', 'exec', NS]` (a prefix that execs
   * its command, so the process id, signals and exit are node's). Default none.
   */
  wrap?: readonly string[];
}

/**
 * A node script of the repository as a process of its own, output captured, environment just PATH,
 * HOME and `env`. Log lines are scanned as they come, each once (a load test writes thousands:
 * re-scanning the whole output per chunk would cost the test process more and more CPU, and the test
 * measures latencies); a last line without a newline counts once its stream has ended.
 */
export function spawnNodeScript(script: string, env: Record<string, string>, options: SpawnOptions = {}): SpawnedProcess {
  const { defaultTimeoutMs = 30_000, killAfterMs: defaultKillAfterMs, name = script, wrap = [] } = options;
  const argv = [...wrap, process.execPath, script];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(child);
  let out = '';
  const lines: string[] = [];
  let partial = { stdout: '', stderr: '' };
  const listeners = new Set<(line: string) => void>();
  const addLine = (line: string): void => {
    lines.push(line);
    for (const l of listeners) l(line);
  };
  const onData = (stream: 'stdout' | 'stderr') => (d: Buffer) => {
    const text = d.toString('utf8');
    out += text;
    const pieces = (partial[stream] + text).split('\n');
    partial = { ...partial, [stream]: pieces.pop() ?? '' };
    for (const line of pieces) addLine(line);
  };
  const onEnd = (stream: 'stdout' | 'stderr') => () => {
    const rest = partial[stream];
    partial = { ...partial, [stream]: '' };
    if (rest !== '') addLine(rest);
  };
  child.stdout.on('data', onData('stdout')).on('end', onEnd('stdout'));
  child.stderr.on('data', onData('stderr')).on('end', onEnd('stderr'));
  const exited = new Promise<ProcessExit>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    child,
    output: () => out,
    records() {
      return lines.flatMap((l) => {
        if (!l.startsWith('{')) return [];
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
    },
    waitForLog(pattern, timeoutMs = defaultTimeoutMs) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const done = (): void => {
          clearTimeout(deadline);
          listeners.delete(listener);
        };
        const listener = (line: string): void => {
          if (!pattern.test(line)) return;
          done();
          resolve(line);
        };
        const deadline = setTimeout(() => {
          done();
          reject(new Error(`no ${name} log line matching ${pattern} within ${timeoutMs} ms; output:\n${out}`));
        }, timeoutMs);
        listeners.add(listener);
        void exited.then(({ code, signal }) => {
          if (!listeners.has(listener)) return;
          done();
          reject(new Error(`${name} exited (${code ?? signal}) before a log line matched ${pattern}; output:\n${out}`));
        });
      });
    },
    exited,
    async stop(signal = 'SIGTERM', killAfterMs = defaultKillAfterMs) {
      if (running()) child.kill(signal);
      const timer = killAfterMs === undefined ? undefined : setTimeout(() => running() && child.kill('SIGKILL'), killAfterMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Adds a just spawned worker to `into` (so teardown stops it) and resolves with it once it logged "worker started". */
export async function workerStarted<P extends SpawnedProcess>(worker: P, into: P[]): Promise<P> {
  into.push(worker);
  await worker.waitForLog(/"msg":"worker started"/);
  return worker;
}
