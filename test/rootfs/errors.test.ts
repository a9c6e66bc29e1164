import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertOneLineError, bundlefarm } from '../helpers/cli.js';
import { writeIdentity } from '../helpers/identity.js';
import { needTools } from '../helpers/rootfs-tools.js';
import { tempDir } from '../helpers/temp-dir.js';

const BUNDLE = ['-u', '123456789012', '-r', 'x86_64'];

/** A failed build publishes nothing and leaves no scratch behind. */
async function nothingLeft(dest: string): Promise<void> {
  const left = await readdir(dest).catch(() => [] as string[]);
  assert.deepEqual(left, [], `left in ${dest}: ${left.join(', ')}`);
}

test('bundle-vol/bundle-tar: bad input is one typed error line, and nothing is left behind', async (t) => {
  if (!needTools(t, ['mke2fs', 'debugfs', 'e2fsck', 'getfattr'])) return;
  const dir = await tempDir('bundlefarm-rootfs-err-');
  const id = await writeIdentity(dir);
  const flags = ['-c', id.cert, '-k', id.key, ...BUNDLE];

  // not a tar archive at all
  await writeFile(join(dir, 'junk.tar'), Buffer.alloc(4096, 0x41));
  let dest = join(dir, 'out1');
  await mkdir(dest);
  assertOneLineError(await bundlefarm(['--quiet', 'bundle-tar', '-f', join(dir, 'junk.tar'), ...flags, '-d', dest]), 'BF_TARBALL_INVALID', /checksum/);
  await nothingLeft(dest);

  // a tree larger than the size asked for: refused before any image is written
  const tree = join(dir, 'tree');
  await mkdir(tree);
  await writeFile(join(tree, 'big'), Buffer.alloc(40 * 1024 * 1024, 1));
  dest = join(dir, 'out2');
  await mkdir(dest);
  assertOneLineError(await bundlefarm(['--quiet', 'bundle-vol', '-v', tree, ...flags, '-d', dest, '-s', '16']), 'BF_FS_FULL', /-s/);
  await nothingLeft(dest);

  // a volume that does not exist
  dest = join(dir, 'out3');
  await mkdir(dest);
  assertOneLineError(await bundlefarm(['--quiet', 'bundle-vol', '-v', join(dir, 'nope'), ...flags, '-d', dest]), 'BF_TREE_UNREADABLE', /ENOENT/);
  await nothingLeft(dest);

  // a size beyond the 10 GiB limit
  assertOneLineError(await bundlefarm(['--quiet', 'bundle-vol', '-v', tree, ...flags, '-d', dest, '-s', '10241']), 'BF_BAD_OPTION', /--size.*10240/);
  await nothingLeft(dest);
});
