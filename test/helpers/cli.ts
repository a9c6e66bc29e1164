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
