/*
 * The scratch directory an image is built in: one subdirectory per build, named
 * `bundlefarm-rootfs-*`, with an owner file (host and pid). It is removed when the build ends, however
 * it ends; a process killed outright leaves it behind, and `removeStaleScratch` — run by the next build
 * on the same host — deletes the subdirectories whose owner process is gone.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rm, statfs, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { FileUnwritableError } from '@bundlefarm/errors';
import { ScratchSpaceError } from './rootfs-errors.js';

export const SCRATCH_PREFIX = 'bundlefarm-rootfs-';
const OWNER_FILE = 'owner.json';

export interface Scratch {
  dir: string;
  remove(): Promise<void>;
}

export async function createScratch(parent: string): Promise<Scratch> {
  const dir = join(parent, `${SCRATCH_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(join(dir, OWNER_FILE), JSON.stringify({ host: hostname(), pid: process.pid, started: new Date().toISOString() }));
  } catch (err) {
    throw new FileUnwritableError(dir, err);
  }
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Removes scratch subdirectories of `parent` left by dead processes of this host; returns them. */
export async function removeStaleScratch(parent: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(SCRATCH_PREFIX)) continue;
    const dir = join(parent, name);
    let owner: { host?: unknown; pid?: unknown };
    try {
      owner = JSON.parse(await readFile(join(dir, OWNER_FILE), 'utf8')) as { host?: unknown; pid?: unknown };
    } catch {
      continue; // not ours to judge (being created, or not a scratch dir)
    }
    if (owner.host !== hostname() || typeof owner.pid !== 'number' || alive(owner.pid)) continue;
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Refuses before any work when the scratch filesystem has less than `needed` bytes free. */
export async function assertFreeSpace(dir: string, needed: number): Promise<void> {
  const s = await statfs(dir);
  const available = Number(s.bavail) * Number(s.bsize);
  if (available < needed) throw new ScratchSpaceError(dir, needed, available);
}
