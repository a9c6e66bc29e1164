import assert from 'node:assert/strict';
import { mkdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { bundlefarm } from '../helpers/cli.js';
import { fsckClean, readImage } from '../helpers/ext4-image.js';
import { writeIdentity } from '../helpers/identity.js';
import { needTools } from '../helpers/rootfs-tools.js';
import { BROUGHT_BACK, EXPECTED_EXCLUDED, compareTrees, makeEveryKindTree, readSourceTree } from '../helpers/rootfs-tree.js';
import { tempDir } from '../helpers/temp-dir.js';

const TOOLS = ['mke2fs', 'debugfs', 'e2fsck', 'getfattr', 'setfattr', 'setfacl', 'setcap'];

/** The image back from a bundle: `bundlefarm unbundle`, as a user would. */
async function unbundle(dir: string, key: string): Promise<string> {
  const back = join(dir, 'back');
  const r = await bundlefarm(['--quiet', 'unbundle', '-m', join(dir, 'tree', 'out', 'image.manifest.xml'), '-k', key, '-d', back]);
  assert.equal(r.code, 0, r.stderr);
  return join(back, 'image');
}

test('bundle-vol: every kind of entry survives bundle and unbundle, byte for byte, and the excluded stay out', async (t) => {
  if (!needTools(t, TOOLS, true)) return;
  const dir = await tempDir('bundlefarm-vol-');
  const tree = join(dir, 'tree');
  const { socket } = await makeEveryKindTree(tree);
  const id = await writeIdentity(dir);
  const dest = join(tree, 'out'); // the destination inside the volume must not end up in the image
  await mkdir(dest);
  await utimes(tree, 1000000000, 1000000000); // the root's time, after `out` was made in it
  const excluded = new Set([...EXPECTED_EXCLUDED, 'out']);
  const isExcluded = (p: string): boolean => [...excluded].some((e) => p === e || p.startsWith(e + '/'));
  let source: ReturnType<typeof readSourceTree>;
  try {
    const r = await bundlefarm([
      '--quiet', 'bundle-vol', '-v', tree, '-c', id.cert, '-k', id.key, '-u', '1234-5678-9012', '-r', 'x86_64',
      '-d', dest, '-e', '/opt/secret', '-i', `/${BROUGHT_BACK}`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    // every excluded class is named, with an example
    for (const line of ['contents of /proc, /sys and /dev', 'contents of /run and /tmp', 'contents of /mnt and /media', 'private keys', 'SSH host keys', '~/.ssh', 'shell and REPL histories', 'cloud-init', 'container runtime markers', 'excluded with -e: /opt/secret', 'sockets', 'the destination and scratch directories: /out']) {
      assert.ok(r.stdout.includes(line), `stdout names "${line}":\n${r.stdout}`);
    }
    assert.ok(!r.stdout.includes('/root/.bash_history'), 'the -i path is not listed as excluded');
    assert.ok(!r.stdout.includes('ca.pem'), 'a certificate is not a private key');
    // read the source while the socket exists (closing it removes it, which changes /var's mtime)
    source = readSourceTree(tree, isExcluded);
  } finally {
    socket.close();
  }
  const image = await unbundle(dir, id.key);
  const fsck = await fsckClean(image);
  assert.ok(fsck.clean, fsck.output);
  const img = await readImage(image);
  for (const e of excluded) assert.ok(!img.has(e), `/${e} is not in the image`);
  assert.ok(img.has(BROUGHT_BACK), '-i brought /root/.bash_history back');
  assert.ok(img.has('var/lib/cloud/seed/nocloud/meta-data'), "cloud-init's seed stays");
  // /dev keeps its directory and gets the minimal nodes ec2-bundle-vol makes
  const nodes = { console: [5, 1], null: [1, 3], zero: [1, 5], tty: [5, 0] } as const;
  for (const [name, [major, minor]] of Object.entries(nodes)) {
    const n = img.get(`dev/${name}`);
    assert.equal(n?.type, 'char', `/dev/${name}`);
    assert.deepEqual([n.major, n.minor], [major, minor]);
  }
  const diffs = compareTrees(source, img, { imageOnly: ['lost+found', 'dev/console', 'dev/null', 'dev/zero', 'dev/tty'] });
  assert.deepEqual(diffs, []);
  // the 1 GiB sparse file stayed sparse (3 blocks of data)
  const big = img.get('data/big.sparse')!;
  assert.equal(big.size, 1024 ** 3);
  assert.ok(big.blocks * 512 < 1024 * 1024, `${big.blocks * 512} bytes allocated`);
  // the root directory's own mode, owner and time (mke2fs -d drops them)
  assert.deepEqual([img.get('')!.mode, img.get('')!.uid, img.get('')!.gid, img.get('')!.mtime], [0o750, 5, 6, 1000000000]);
});
