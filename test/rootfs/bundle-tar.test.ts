import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, chown, readFile, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { BIN, bundlefarm } from '../helpers/cli.js';
import { fsckClean, readImage } from '../helpers/ext4-image.js';
import { writeIdentity } from '../helpers/identity.js';
import { run } from '../helpers/run.js';
import { needTools } from '../helpers/rootfs-tools.js';
import { BROUGHT_BACK, EXPECTED_EXCLUDED, compareTrees, makeEveryKindTree, readSourceTree } from '../helpers/rootfs-tree.js';
import { tempDir } from '../helpers/temp-dir.js';

const NOBODY = 65534;
const TOOLS = ['mke2fs', 'debugfs', 'e2fsck', 'getfattr', 'setfattr', 'setfacl', 'setcap', 'setpriv', 'zstd'];

/** Runs a command as nobody (uid/gid 65534, no groups), as an unprivileged CI job would. */
function asNobody(cmd: string, args: string[], input?: Buffer) {
  return run('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', '--', cmd, ...args], {
    env: { ...process.env, HOME: '/tmp' },
    ...(input ? { input } : {}),
  });
}

/** A temp dir nobody can work in, with the signing identity readable by nobody. */
async function nobodyDir(prefix: string): Promise<{ dir: string; key: string; cert: string }> {
  const dir = await tempDir(prefix);
  await chmod(dir, 0o755);
  await chown(dir, NOBODY, NOBODY);
  const id = await writeIdentity(dir);
  await chown(id.key, NOBODY, NOBODY);
  await chown(id.cert, NOBODY, NOBODY);
  return { dir, ...id };
}

async function unbundle(dest: string, key: string): Promise<string> {
  const back = join(dest, '..', 'back');
  const r = await bundlefarm(['--quiet', 'unbundle', '-m', join(dest, 'image.manifest.xml'), '-k', key, '-d', back]);
  assert.equal(r.code, 0, r.stderr);
  return join(back, 'image');
}

test('bundle-tar by an unprivileged user: owners, modes, devices, xattrs, ACLs, capabilities and holes from the tar headers', async (t) => {
  if (!needTools(t, TOOLS, true)) return;
  const { dir, key, cert } = await nobodyDir('bundlefarm-tar-');
  const tree = join(dir, 'tree');
  const { socket } = await makeEveryKindTree(tree);
  socket.close(); // tar cannot hold sockets
  await utimes(tree, 1000000000, 1000000000);
  await utimes(join(tree, 'var'), 1100000000, 1100000000);
  // made as root (the tree has foreign owners and devices), sparse members (-S), compressed with zstd
  const tarball = join(dir, 'rootfs.tar.zst');
  const tar = spawnSync('sh', ['-c', `tar -S --numeric-owner --xattrs --xattrs-include='*' --acls -C '${tree}' -cf - . | zstd -q -c > '${tarball}'`]);
  assert.equal(tar.status, 0, tar.stderr.toString());
  const dest = join(dir, 'out');
  const r = await asNobody(process.execPath, [BIN, '--quiet', 'bundle-tar', '-f', tarball, '-c', cert, '-k', key, '-u', '123456789012', '-r', 'x86_64', '-d', dest, '-e', '/opt/secret', '-i', `/${BROUGHT_BACK}`]);
  assert.equal(r.code, 0, r.stderr);
  for (const line of ['private keys', 'SSH host keys', 'contents of /proc, /sys and /dev', 'excluded with -e: /opt/secret']) assert.ok(r.stdout.includes(line), `names "${line}":\n${r.stdout}`);

  const image = await unbundle(dest, key);
  const fsck = await fsckClean(image);
  assert.ok(fsck.clean, fsck.output);
  const excluded = EXPECTED_EXCLUDED.filter((p) => p !== 'var/sock');
  const source = readSourceTree(tree, (p) => excluded.some((e) => p === e || p.startsWith(e + '/')));
  const img = await readImage(image);
  for (const e of excluded) assert.ok(!img.has(e), `/${e} is not in the image`);
  assert.ok(img.has(BROUGHT_BACK), '-i brought it back');
  assert.deepEqual(compareTrees(source, img, { imageOnly: ['lost+found', 'dev/console', 'dev/null', 'dev/zero', 'dev/tty'] }), []);
  assert.ok(img.get('data/big.sparse')!.blocks * 512 < 1024 * 1024, 'the sparse member stayed sparse');
  // owned as in the headers, not by nobody who ran the build
  assert.deepEqual([img.get('home/big/file')!.uid, img.get('home/big/file')!.gid], [100000, 200000]);
  assert.deepEqual([img.get('')!.mode, img.get('')!.uid, img.get('')!.gid], [0o750, 5, 6]);
});

test('bundle-tar from stdin: a tarball made by a non-root user with --owner=0 gives root-owned files', async (t) => {
  if (!needTools(t, ['mke2fs', 'debugfs', 'e2fsck', 'getfattr', 'setfacl', 'setpriv'])) return;
  if (process.getuid?.() !== 0) {
    t.skip('needs root to switch to an unprivileged user');
    return;
  }
  const { dir, key, cert } = await nobodyDir('bundlefarm-tar-user-');
  const tree = join(dir, 'tree');
  // everything below is made by nobody
  const make = [
    `mkdir -p '${tree}/etc' '${tree}/usr/bin' '${tree}/srv/www'`,
    `printf 'hello\\n' > '${tree}/etc/motd'`,
    `printf 'bin\\n' > '${tree}/usr/bin/app' && chmod 4755 '${tree}/usr/bin/app'`,
    `ln '${tree}/usr/bin/app' '${tree}/usr/bin/app-link'`,
    `ln -s ../etc/motd '${tree}/srv/motd-link'`,
    `mkfifo '${tree}/srv/pipe'`,
    `chmod 1777 '${tree}/srv/www'`,
    `setfattr -n user.origin -v ci '${tree}/etc/motd'`,
    `setfacl -m u:1000:rw '${tree}/etc/motd'`,
    `touch -d @2300000000 '${tree}/etc/motd'`,
  ].join(' && ');
  const made = await asNobody('sh', ['-c', make]);
  assert.equal(made.code, 0, made.stderr);
  const tarred = await asNobody('sh', ['-c', `tar --numeric-owner --owner=0 --group=0 --xattrs --acls -C '${tree}' -czf '${dir}/rootfs.tgz' .`]);
  assert.equal(tarred.code, 0, tarred.stderr);
  const dest = join(dir, 'out');
  const r = await asNobody(process.execPath, [BIN, '--quiet', 'bundle-tar', '-f', '-', '-c', cert, '-k', key, '-u', '123456789012', '-r', 'x86_64', '-d', dest, '--generate-fstab'], await readFile(join(dir, 'rootfs.tgz')));
  assert.equal(r.code, 0, r.stderr);
  const image = await unbundle(dest, key);
  assert.ok((await fsckClean(image)).clean);
  const img = await readImage(image);
  const source = readSourceTree(tree);
  assert.deepEqual(compareTrees(source, img, { imageOnly: ['lost+found', 'etc/fstab'], owner: { uid: 0, gid: 0 } }), []);
  assert.equal(img.get('usr/bin/app')!.mode, 0o4755);
  assert.equal(img.get('usr/bin/app')!.inode, img.get('usr/bin/app-link')!.inode);
  assert.equal(img.get('etc/motd')!.mtime, 2300000000);
  const fstab = img.get('etc/fstab')!;
  assert.deepEqual([fstab.uid, fstab.gid, fstab.mode], [0, 0, 0o644]);
});
