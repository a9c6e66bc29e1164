import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REPO } from './fixtures.js';
import { run, type RunResult } from './run.js';

/** The installed `bundlefarm` command, exactly as a user runs it (a real process). */
export const BIN = join(REPO, 'node_modules', '.bin', 'bundlefarm');

export function bundlefarm(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}): Promise<RunResult> {
  return run(BIN, args, {
    cwd: options.cwd ?? REPO,
    env: { ...process.env, ...options.env },
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
}

/** Exit status 1 and one line on stderr naming the code (`bundlefarm: BF_…: …`), no stack trace. */
export function assertOneLineError(r: { code: number | null; stderr: string }, code: string, pattern?: RegExp): void {
  assert.equal(r.code, 1, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, got: ${r.stderr}`);
  assert.ok(lines[0]!.startsWith(`bundlefarm: ${code}: `), lines[0]);
  if (pattern) assert.match(lines[0]!, pattern);
  assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
}
