import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

/**
 * The Debian tools the rootfs tests run. A fresh machine may lack them: the test is then skipped with
 * the reason printed — unless BUNDLEFARM_REQUIRE_TOOLS=1 (set by .ci/run, which installs them), where a
 * missing tool fails the test instead of hiding it.
 */
export const ROOTFS_TOOLS: Record<string, string> = {
  mke2fs: 'e2fsprogs',
  debugfs: 'e2fsprogs',
  e2fsck: 'e2fsprogs',
  getfattr: 'attr',
  setfattr: 'attr',
  setfacl: 'acl',
  setcap: 'libcap2-bin',
  sfdisk: 'fdisk',
  sgdisk: 'gdisk',
  zstd: 'zstd',
  xz: 'xz-utils',
  setpriv: 'util-linux',
};

export function missingTools(tools: readonly string[]): string[] {
  return tools.filter(
    (t) => spawnSync('sh', ['-c', `command -v ${t} || test -x /usr/sbin/${t} || test -x /sbin/${t}`], { stdio: 'ignore' }).status !== 0,
  );
}

/** Skips (or, under BUNDLEFARM_REQUIRE_TOOLS=1, fails) the test when a tool is missing; true to go on. */
export function needTools(t: TestContext, tools: readonly string[], alsoRoot = false): boolean {
  const missing = missingTools(tools);
  const reasons: string[] = [];
  if (missing.length > 0) reasons.push(`missing ${missing.map((m) => `${m} (${ROOTFS_TOOLS[m] ?? m})`).join(', ')}`);
  if (alsoRoot && process.getuid?.() !== 0) reasons.push('needs root to make device nodes, file capabilities and foreign owners');
  if (reasons.length === 0) return true;
  const reason = reasons.join('; ');
  if (process.env.BUNDLEFARM_REQUIRE_TOOLS === '1') throw new Error(`BUNDLEFARM_REQUIRE_TOOLS=1 but ${reason}`);
  process.stderr.write(`# skipped: ${reason}\n`);
  t.skip(reason);
  return false;
}
