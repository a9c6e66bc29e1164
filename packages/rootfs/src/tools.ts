/*
 * The Debian tools the builder runs, checked before any work starts so that a missing one is named
 * with the package that provides it rather than failing halfway.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ToolMissingError } from './rootfs-errors.js';

export const TOOL_PACKAGES: Record<string, string> = {
  mke2fs: 'e2fsprogs',
  debugfs: 'e2fsprogs',
  e2fsck: 'e2fsprogs',
  resize2fs: 'e2fsprogs',
  tune2fs: 'e2fsprogs',
  dumpe2fs: 'e2fsprogs',
  getfattr: 'attr',
  stdbuf: 'coreutils',
  sfdisk: 'fdisk',
  fallocate: 'util-linux',
  zstd: 'zstd',
  xz: 'xz-utils',
  bzip2: 'bzip2',
};

/** Absolute path of `cmd` on PATH (and the sbin directories, where e2fsprogs lives), or undefined. */
export function findTool(cmd: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return join(dir, cmd);
    } catch {
      // next
    }
  }
  return undefined;
}

export function requireTools(cmds: readonly string[]): void {
  for (const cmd of cmds) if (!findTool(cmd)) throw new ToolMissingError(cmd, TOOL_PACKAGES[cmd] ?? cmd);
}

/** PATH with the sbin directories appended, for child processes (a non-root PATH often lacks them). */
export function toolPath(): string {
  const path = process.env.PATH ?? '/usr/bin:/bin';
  return [path, '/usr/sbin', '/sbin'].join(delimiter);
}
