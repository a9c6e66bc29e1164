/*
 * What a test file starts outside itself — redis-server and node processes, temporary directories
 * (some hold a private key) — must not outlive it, however the file ends. `after` hooks do not cover
 * it: when a file throws at load (a missing browser, a failed start), node:test rethrows before its
 * harness is up and neither `after` hooks nor 'exit' handlers run; a runner timeout or SIGKILL ends
 * the process outright.
 *
 * So the first registration starts a reaper (exit-reaper.mjs), a small detached process whose stdin
 * is a pipe from this one: the pipe closes when this process ends, in any way, and the reaper then
 * kills the registered processes still running, runs the registered clean-up commands (deleting a
 * network namespace, a veth pair) and removes the registered directories. What to clean
 * goes to a registry file, appended synchronously, so a crash right after a registration loses
 * nothing. The `after` hooks and dispose functions still clean up as before, at once; the reaper
 * finds those processes gone and those directories removed.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REAPER = fileURLToPath(new URL('./exit-reaper.mjs', import.meta.url));

let registry: string | undefined;

function record(entry: Record<string, unknown>): void {
  if (!registry) {
    registry = join(tmpdir(), `bundlefarm-reaper-${process.pid}-${randomBytes(4).toString('hex')}.jsonl`);
    appendFileSync(registry, '', { mode: 0o600 });
    const reaper = spawn(process.execPath, [REAPER, registry], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    reaper.unref();
    (reaper.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    reaper.stdin?.on('error', () => {}); // the reaper gone early: nothing to do about it here
  }
  appendFileSync(registry, `${JSON.stringify(entry)}\n`);
}

/** /proc's start time of `pid` (tells the process apart from a later one with the same number). */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** SIGKILLs `child` when this process ends while the child still runs (it is forgotten once it exits). */
export function killOnExit(child: ChildProcess): void {
  const pid = child.pid;
  if (pid === undefined) return; // it did not start
  const start = startTime(pid);
  if (start === undefined) return; // already gone
  record({ kill: pid, start });
  child.once('exit', () => record({ forget: pid }));
}

/** Removes `dir` (recursively) when this process ends, if it is still there. */
export function removeOnExit(dir: string): void {
  if (!isAbsolute(dir)) throw new Error(`removeOnExit needs an absolute path, got ${dir}`);
  record({ rm: dir });
}

/**
 * Runs `argv` (a command and its arguments, no shell; an absolute path or a command on the reaper's
 * PATH) when this process ends, after the registered processes are killed and before the directories
 * go. It runs whether or not the test undid it already, so it must be harmless then (`ip netns del`
 * of a namespace already gone just fails, and its failure is ignored).
 */
export function runOnExit(argv: readonly string[]): void {
  if (argv.length === 0 || argv.some((a) => typeof a !== 'string')) throw new Error('runOnExit needs a command');
  record({ run: [...argv] });
}
