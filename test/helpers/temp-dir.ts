import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { removeOnExit } from './exit-cleanup.js';

/** A fresh directory under the system temp dir, removed when the test file ends (also when it crashes: see exit-cleanup.ts). */
export async function tempDir(prefix = 'bundlefarm-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  removeOnExit(dir);
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
