/*
 * A process of the local service (the API, a worker): `node BIN` with the environment it is given and
 * nothing else of the supervisor's (no stray BUNDLEFARM_* of the user's shell), its output appended to
 * a log file, in a process group of its own so that a Ctrl-C at the terminal reaches the supervisor
 * only, which stops the processes in order. Lines can be waited for (a worker's "worker started").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { LocalServiceError } from './local-service-error.js';

export interface ServiceChild {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the first output line matching (earlier output included); rejects when the process exits first or after `timeoutMs`. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly running: boolean;
  /** The last output lines, for an error message. */
  tail(lines?: number): string;
  /** `signal` (default SIGTERM), then SIGKILL after `killAfterMs`; resolves once it exited. */
  stop(killAfterMs: number, signal?: NodeJS.Signals): Promise<void>;
}

/** Variables of the supervisor's environment a child gets (the rest it is given explicitly). */
const PASSED_ON = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'TZ', 'NODE_OPTIONS'];

export function spawnServiceChild(name: string, bin: string, env: Record<string, string>, logFile: string): ServiceChild {
  const inherited = Object.fromEntries(PASSED_ON.flatMap((k) => (process.env[k] !== undefined ? [[k, process.env[k]]] : [])));
  const child: ChildProcess = spawn(process.execPath, [bin], { env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const log = createWriteStream(logFile, { flags: 'a', mode: 0o600 });
  log.on('error', () => {}); // a full disk must not take the supervisor down; the process runs on
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  const partial = { stdout: '', stderr: '' };
  const onData = (stream: 'stdout' | 'stderr') => (d: Buffer) => {
    log.write(d);
    const pieces = (partial[stream] + d.toString('utf8')).split('\n');
    partial[stream] = pieces.pop() ?? '';
    for (const line of pieces) {
      lines.push(line);
      if (lines.length > 2000) lines.splice(0, 1000);
      for (const l of listeners) l(line);
    }
  };
  child.stdout!.on('data', onData('stdout'));
  child.stderr!.on('data', onData('stderr'));
  let spawnError: Error | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (err) => {
      spawnError = err;
      resolve({ code: null, signal: null });
    });
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  void exited.then(() => log.end());
  const running = (): boolean => spawnError === undefined && child.exitCode === null && child.signalCode === null;
  const tail = (n = 15): string => lines.slice(-n).join('\n');
  return {
    name,
    pid: child.pid ?? -1,
    logFile,
    exited,
    get running() {
      return running();
    },
    tail,
    waitForLine(pattern, timeoutMs) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(listener);
        };
        const listener = (line: string): void => {
          if (!pattern.test(line)) return;
          done();
          resolve(line);
        };
        const timer = setTimeout(() => {
          done();
          reject(new LocalServiceError(`the ${name} did not start within ${timeoutMs / 1000} s (log: ${logFile}):\n${tail()}`));
        }, timeoutMs);
        listeners.add(listener);
        void exited.then(({ code, signal }) => {
          if (!listeners.has(listener)) return;
          done();
          reject(new LocalServiceError(`the ${name} exited (${signal ?? code ?? spawnError?.message}) while starting (log: ${logFile}):\n${tail()}`));
        });
      });
    },
    async stop(killAfterMs, signal = 'SIGTERM') {
      if (running()) child.kill(signal);
      const timer = setTimeout(() => running() && child.kill('SIGKILL'), killAfterMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
