import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { bundlefarm } from '../helpers/cli.js';
import { fsckClean, readImage } from '../helpers/ext4-image.js';
import { writeIdentity } from '../helpers/identity.js';
import { run } from '../helpers/run.js';
import { needTools } from '../helpers/rootfs-tools.js';
import { tempDir } from '../helpers/temp-dir.js';

for (const scheme of ['mbr', 'gpt'] as const) {
  test(`bundle-vol --partition ${scheme}: a disk image whose table sfdisk and sgdisk read, with the filesystem in partition 1`, async (t) => {
    if (!needTools(t, ['mke2fs', 'debugfs', 'e2fsck', 'getfattr', 'sfdisk', 'sgdisk'])) return;
    const dir = await tempDir(`bundlefarm-${scheme}-`);
    const tree = join(dir, 'tree');
    await mkdir(join(tree, 'etc'), { recursive: true });
    await writeFile(join(tree, 'etc', 'hostname'), 'disk\n');
    await writeFile(join(tree, 'etc', 'fstab'), 'the old one\n');
    const id = await writeIdentity(dir);
    const out = join(dir, 'out');
    const r = await bundlefarm(['--quiet', 'bundle-vol', '-v', tree, '-c', id.cert, '-k', id.key, '-u', '123456789012', '-r', 'x86_64', '-d', out, '--partition', scheme, '-s', '64', '--generate-fstab', '--label', 'cloudroot']);
    assert.equal(r.code, 0, r.stderr);
    const back = join(dir, 'back');
    const u = await bundlefarm(['--quiet', 'unbundle', '-m', join(out, 'image.manifest.xml'), '-k', id.key, '-d', back]);
    assert.equal(u.code, 0, u.stderr);
    const disk = join(back, 'image');

    const json = await run('sfdisk', ['--json', disk]);
    assert.equal(json.code, 0, json.stderr);
    const table = (JSON.parse(json.stdout) as { partitiontable: { label: string; partitions: Array<{ node: string; start: number; size: number; type: string; bootable?: boolean }> } }).partitiontable;
    assert.equal(table.label, scheme === 'mbr' ? 'dos' : 'gpt');
    const root = table.partitions.find((p) => p.node.endsWith('1'))!;
    assert.equal(root.start, scheme === 'mbr' ? 2048 : 4096);
    if (scheme === 'mbr') {
      assert.equal(root.type, '83');
      assert.equal(root.bootable, true);
      assert.equal(table.partitions.length, 1);
    } else {
      assert.equal(root.type, '0FC63DAF-8483-4772-8E79-3D69D8477DE4');
      const bios = table.partitions.find((p) => p.type === '21686148-6449-6E6F-744E-656564454649');
      assert.deepEqual([bios?.start, bios?.size], [2048, 2048], 'a 1 MiB BIOS boot partition for grub-install');
      const sg = await run('sgdisk', ['-p', disk]);
      assert.equal(sg.code, 0, sg.stderr);
      assert.match(sg.stdout, /^\s+1\s+4096\s+\d+.*8300\s+Linux$/m);
      assert.match(sg.stdout, /^\s+2\s+2048\s+4095.*EF02/m);
      assert.ok(!/Problem|corrupt/i.test(sg.stdout + sg.stderr), sg.stdout + sg.stderr);
    }
    // -s is the whole disk, as in ec2-bundle-vol
    const size = Number((await run('stat', ['-c', '%s', disk])).stdout.trim());
    assert.equal(size, 64 * 1024 * 1024);
    assert.equal((root.start + root.size) * 512 <= size, true);

    const fs = `${disk}?offset=${root.start * 512}`;
    const fsck = await fsckClean(fs);
    assert.ok(fsck.clean, fsck.output);
    const img = await readImage(fs);
    assert.ok(img.has('etc/hostname'));
    const label = await run('dumpe2fs', ['-h', fs]);
    assert.match(label.stdout, /Filesystem volume name:\s+cloudroot/);
    const uuid = /Filesystem UUID:\s+(\S+)/.exec(label.stdout)![1]!;
    const fstab = await run('sh', ['-c', `debugfs -R 'cat /etc/fstab' '${fs}' 2>/dev/null`]);
    assert.match(fstab.stdout, new RegExp(`^UUID=${uuid}\\s+/\\s+ext4\\s`, 'm'), 'the generated fstab mounts this filesystem by UUID');
  });
}
