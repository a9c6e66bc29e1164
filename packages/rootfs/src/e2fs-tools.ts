/*
 * The e2fsprogs steps around populating an image: mke2fs (no journal while populating, never
 * inline_data), e2fsck -fn as the gate every built image passes, resize2fs to shrink an image made at
 * the ceiling to its content plus headroom, and tune2fs -j to add a journal sized for the final size.
 */
import { execFile } from 'node:child_process';
import { truncate, writeFile } from 'node:fs/promises';
import { FilesystemBuildError, FilesystemFullError } from './rootfs-errors.js';
import { toolPath } from './tools.js';

export const BLOCK_SIZE = 4096;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export function runTool(cmd: string, args: string[], signal?: AbortSignal): Promise<Result> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { env: { ...process.env, PATH: toolPath(), LC_ALL: 'C' }, maxBuffer: 64 * 1024 * 1024, ...(signal ? { signal } : {}) },
      (err, stdout, stderr) => {
        if (err && typeof (err as { code?: unknown }).code !== 'number') reject(err as Error); // eslint-disable-line @typescript-eslint/no-unnecessary-type-assertion -- execFile's error (ENOENT: tool missing) as it is; callers read its code
        else resolve({ code: err ? Number((err as { code?: unknown }).code) : 0, stdout, stderr });
      },
    );
  });
}

async function must(cmd: string, args: string[], signal?: AbortSignal): Promise<Result> {
  const r = await runTool(cmd, args, signal);
  if (r.code !== 0) throw new FilesystemBuildError(cmd, (r.stderr.trim() || r.stdout.trim() || `exit ${r.code}`).split('\n').slice(-4).join(' | '));
  return r;
}

export interface MkfsOptions {
  uuid: string;
  label?: string;
  /** Extra -O features (e.g. "^metadata_csum,^64bit" for old kernels). */
  features?: string;
}

/** An empty ext4 filesystem of exactly `bytes` in a new sparse file. */
export async function makeFilesystem(path: string, bytes: number, options: MkfsOptions, signal?: AbortSignal): Promise<void> {
  await writeFile(path, '');
  await truncate(path, bytes);
  const features = ['^has_journal', '^inline_data', ...(options.features ? options.features.split(',').filter(Boolean) : [])].join(',');
  await must(
    'mke2fs',
    [
      '-q', '-F', '-t', 'ext4', '-b', String(BLOCK_SIZE), '-T', 'default', '-O', features, '-U', options.uuid,
      '-E', 'root_owner=0:0',
      ...(options.label ? ['-L', options.label] : []),
      path,
    ],
    signal,
  );
}

/** e2fsck -fn: throws with its findings unless the filesystem is clean. */
export async function checkFilesystem(path: string, signal?: AbortSignal): Promise<void> {
  const r = await runTool('e2fsck', ['-fn', path], signal);
  if (r.code !== 0) {
    const findings = (r.stdout + r.stderr).split('\n').filter((l) => l.trim() && !/^(Pass \d|e2fsck \d)/.test(l)).slice(0, 8);
    throw new FilesystemBuildError('e2fsck', `the built filesystem is not clean: ${findings.join(' | ')}`);
  }
}

export interface FsInfo {
  blockCount: number;
  freeBlocks: number;
  inodeCount: number;
  freeInodes: number;
}

export async function filesystemInfo(path: string, signal?: AbortSignal): Promise<FsInfo> {
  const r = await must('dumpe2fs', ['-h', path], signal);
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(r.stdout);
    if (!m) throw new FilesystemBuildError('dumpe2fs', `no "${name}" in its output`);
    return Number(m[1]);
  };
  return { blockCount: field('Block count'), freeBlocks: field('Free blocks'), inodeCount: field('Inode count'), freeInodes: field('Free inodes') };
}

/** The journal mke2fs would give a filesystem of `blocks` (e2fsprogs' ext2fs_default_journal_size). */
export function journalBlocks(blocks: number): number {
  if (blocks < 2048) return 0;
  if (blocks < 32768) return 1024;
  if (blocks < 256 * 1024) return 4096;
  if (blocks < 512 * 1024) return 8192;
  if (blocks < 4096 * 1024) return 16384;
  if (blocks < 8192 * 1024) return 32768;
  return 65536;
}

/**
 * Shrinks a filesystem to what its content needs plus `headroom(used)` bytes and the journal still to
 * come, never above `maxBytes`; truncates the file to match. Returns the new size in bytes.
 */
export async function shrinkToFit(path: string, maxBytes: number, headroom: (usedBytes: number) => number, signal?: AbortSignal): Promise<number> {
  const before = await filesystemInfo(path, signal);
  const usedBytes = (before.blockCount - before.freeBlocks) * BLOCK_SIZE;
  await must('resize2fs', ['-f', '-M', path], signal);
  const min = await filesystemInfo(path, signal);
  let target = usedBytes + headroom(usedBytes);
  target += journalBlocks(Math.ceil(target / BLOCK_SIZE)) * BLOCK_SIZE;
  target = Math.ceil(target / (1 << 20)) * (1 << 20);
  target = Math.max(target, min.blockCount * BLOCK_SIZE);
  if (target > maxBytes) target = Math.floor(maxBytes / BLOCK_SIZE) * BLOCK_SIZE;
  if (target < min.blockCount * BLOCK_SIZE) {
    throw new FilesystemFullError(`the content needs at least ${min.blockCount * BLOCK_SIZE} bytes, more than the ${maxBytes} an image may have`);
  }
  const blocks = Math.floor(target / BLOCK_SIZE);
  if (blocks !== min.blockCount) await must('resize2fs', ['-f', path, String(blocks)], signal);
  await truncate(path, blocks * BLOCK_SIZE);
  return blocks * BLOCK_SIZE;
}

/** Adds the journal (sized by tune2fs for the final size). */
export async function addJournal(path: string, signal?: AbortSignal): Promise<void> {
  const r = await runTool('tune2fs', ['-j', path], signal);
  if (r.code !== 0) {
    const text = r.stderr.trim() || r.stdout.trim();
    if (/space|allocate/i.test(text)) throw new FilesystemFullError(`no room left for the journal (${text}); give a larger size with -s`);
    throw new FilesystemBuildError('tune2fs', text);
  }
}
