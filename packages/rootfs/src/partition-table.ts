/*
 * Turns a filesystem image into a whole-disk image with a partition table (for HVM AMIs), in place:
 * room for the table is inserted in front of the filesystem with FALLOC_FL_INSERT_RANGE (no copy; where
 * the scratch filesystem cannot, the image is copied with its holes kept), then sfdisk writes the table.
 *
 *  - mbr: one primary Linux partition (type 83, bootable) from 1 MiB to the end, as ec2-bundle-vol
 *    makes it (it started at sector 63; 1 MiB leaves GRUB 2 its embedding gap).
 *  - gpt: partition 1 "Linux" (8300) from 2 MiB to the end, and partition 2, a 1 MiB BIOS boot partition
 *    (ef02) at 1 MiB, as ec2-bundle-vol lays it out so that grub-install can later embed into it. The
 *    backup table takes the last MiB.
 *
 * No boot loader is installed: that stays the image author's business, as with ec2-bundle-vol.
 */
import { spawn } from 'node:child_process';
import { rename, rm, truncate } from 'node:fs/promises';
import { FilesystemBuildError } from './rootfs-errors.js';
import { runTool } from './e2fs-tools.js';
import { toolPath } from './tools.js';

export type PartitionScheme = 'none' | 'mbr' | 'gpt';

const MIB = 1 << 20;

/** Bytes in front of the filesystem and after it, per scheme. */
export function partitionOverhead(scheme: PartitionScheme): { head: number; tail: number } {
  if (scheme === 'mbr') return { head: MIB, tail: 0 };
  if (scheme === 'gpt') return { head: 2 * MIB, tail: MIB };
  return { head: 0, tail: 0 };
}

export const LINUX_GPT_TYPE = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';
export const BIOS_BOOT_GPT_TYPE = '21686148-6449-6E6F-744E-656564454649';

/** Makes `path` (a filesystem of `fsBytes`) a partitioned disk; returns the disk's size. */
export async function partitionImage(path: string, fsBytes: number, scheme: Exclude<PartitionScheme, 'none'>, signal?: AbortSignal): Promise<number> {
  const { head, tail } = partitionOverhead(scheme);
  await insertHead(path, head, signal);
  const total = head + fsBytes + tail;
  await truncate(path, total);
  const start = head / 512;
  const sectors = fsBytes / 512;
  const script =
    scheme === 'mbr'
      ? `label: dos\nunit: sectors\n\nstart=${start}, size=${sectors}, type=83, bootable\n`
      : `label: gpt\nunit: sectors\n\nstart=${start}, size=${sectors}, type=${LINUX_GPT_TYPE}, name="Linux"\n` +
        `start=${MIB / 512}, size=${MIB / 512}, type=${BIOS_BOOT_GPT_TYPE}, name="BIOS Boot Partition"\n`;
  await new Promise<void>((resolve, reject) => {
    const child = spawn('sfdisk', ['--no-reread', '--no-tell-kernel', '-q', path], {
      env: { ...process.env, PATH: toolPath(), LC_ALL: 'C' },
      stdio: ['pipe', 'ignore', 'pipe'],
      ...(signal ? { signal } : {}),
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new FilesystemBuildError('sfdisk', err.trim() || `exit ${code}`))));
    child.stdin.end(script);
  });
  return total;
}

async function insertHead(path: string, head: number, signal?: AbortSignal): Promise<void> {
  const r = await runTool('fallocate', ['--insert-range', '--offset', '0', '--length', String(head), path], signal);
  if (r.code === 0) return;
  // the scratch filesystem cannot shift extents (tmpfs, overlayfs …): copy, keeping holes
  const tmp = `${path}.disk`;
  await rm(tmp, { force: true });
  const dd = await runTool('dd', [`if=${path}`, `of=${tmp}`, `bs=${MIB}`, `seek=${head / MIB}`, 'conv=sparse', 'status=none'], signal);
  if (dd.code !== 0) {
    await rm(tmp, { force: true });
    throw new FilesystemBuildError('dd', dd.stderr.trim() || `exit ${dd.code}`);
  }
  await rename(tmp, path);
}
