import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildTarHeader, tarStreamLength } from '@bundlefarm/format';
import { assertOneLineError, BIN } from '../helpers/cli.js';
import { craftBundle } from '../helpers/craft-bundle.js';
import { writeIdentity } from '../helpers/identity.js';
import { run } from '../helpers/run.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * Security review finding 12: `unbundle` writes the image under the manifest's (validated) name or `-o`,
 * never under the tar member's name, and creates it 0600 whatever the umask. A tar member whose name is
 * not exactly the manifest's name is refused (ec2-bundle-image, euca2ools and bundlefarm all name the
 * member after the bundle), as are names with a leading dot or control/format characters.
 */
function tarOf(name: string, data: Buffer): Buffer {
  const header = buildTarHeader({ name, size: data.length, mtime: 1 });
  return Buffer.concat([header, data, Buffer.alloc(tarStreamLength(data.length) - header.length - data.length)]);
}

/** `bundlefarm ARGS` with umask 0, so any mode other than 0600 would show. */
function unbundleCli(args: string[]): ReturnType<typeof run> {
  return run('sh', ['-c', 'umask 0; exec "$0" "$@"', BIN, 'unbundle', ...args]);
}

const IMAGE = Buffer.from('the image\n'.repeat(300));

async function bundleWith(dir: string, manifestName: string, memberName: string): Promise<{ manifest: string; key: string }> {
  const { key } = await writeIdentity(dir);
  const manifest = await craftBundle(join(dir, 'bundle'), manifestName, tarOf(memberName, IMAGE), IMAGE.length);
  return { manifest, key };
}

describe('unbundle: the output name cannot surprise', () => {
  const refusedMembers: Array<[string, string, string]> = [
    ['a dotfile member under an ordinary manifest name', 'b', '.bashrc'],
    ['a member name with a newline', 'b', 'evil\nname.img'],
    ['a member name with a right-to-left override', 'b', 'a\u202egmi.exe'],
    ['a member name different from the manifest name', 'a.img', 'other.img'],
    ['a member name that differs only in case', 'a.img', 'A.img'],
  ];
  for (const [what, manifestName, memberName] of refusedMembers) {
    it(`refuses ${what}, writing nothing`, async () => {
      const dir = await tempDir();
      const { manifest, key } = await bundleWith(dir, manifestName, memberName);
      const dest = join(dir, 'out');
      const r = await unbundleCli(['-m', manifest, '-k', key, '-d', dest]);
      assertOneLineError(r, 'BF_ARCHIVE_INVALID', /tar member/);
      assert.deepEqual(await readdir(dest).catch(() => []), [], 'nothing in the destination');
      assert.ok(!existsSync(join(dir, memberName)) && !existsSync(join(dest, memberName)));
    });
  }

  const refusedNames: Array<[string, string]> = [
    ['a manifest name with a leading dot', '.bashrc'],
    ['a manifest name with a format character', 'a\u202egmi.exe'],
    ['a manifest name with a line separator', 'a\u2028b'],
  ];
  for (const [what, name] of refusedNames) {
    it(`refuses ${what} before decrypting anything`, async () => {
      const dir = await tempDir();
      const { manifest, key } = await bundleWith(dir, name, name);
      const dest = join(dir, 'out');
      const r = await unbundleCli(['-m', manifest, '-k', key, '-d', dest]);
      assertOneLineError(r, 'BF_BAD_NAME');
      assert.ok(!existsSync(dest), 'the destination was not created');
    });
  }

  it('writes the image under the manifest name, mode 0600 even with umask 0', async () => {
    const dir = await tempDir();
    const { manifest, key } = await bundleWith(dir, 'a.img', 'a.img');
    const dest = join(dir, 'out');
    const r = await unbundleCli(['-m', manifest, '-k', key, '-d', dest]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await readdir(dest), ['a.img']);
    assert.ok((await readFile(join(dest, 'a.img'))).equals(IMAGE));
    assert.equal((await stat(join(dest, 'a.img'))).mode & 0o777, 0o600);
  });

  it('-o FILE writes exactly there (0600) and respects --overwrite', async () => {
    const dir = await tempDir();
    const { manifest, key } = await bundleWith(dir, 'a.img', 'a.img');
    const target = join(dir, 'restored', 'root.raw');
    await mkdir(join(dir, 'restored'));
    const r = await unbundleCli(['-m', manifest, '-k', key, '-o', target]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`image: ${target.replace(/[.\\/]/g, '\\$&')}`));
    assert.deepEqual(await readdir(join(dir, 'restored')), ['root.raw'], 'nothing else, no temporary file left');
    assert.ok((await readFile(target)).equals(IMAGE));
    assert.equal((await stat(target)).mode & 0o777, 0o600);

    // an existing file is kept unless --overwrite is given
    await writeFile(target, 'precious', { mode: 0o644 });
    const again = await unbundleCli(['-m', manifest, '-k', key, '-o', target]);
    assertOneLineError(again, 'BF_DESTINATION_EXISTS');
    assert.equal(await readFile(target, 'utf8'), 'precious');
    const over = await unbundleCli(['-m', manifest, '-k', key, '-o', target, '--overwrite']);
    assert.equal(over.code, 0, over.stderr);
    assert.ok((await readFile(target)).equals(IMAGE));
    assert.equal((await stat(target)).mode & 0o777, 0o600, 'the replacement is 0600 too');
    assert.deepEqual(await readdir(join(dir, 'restored')), ['root.raw']);
  });

  it('-o and -d together, and -o into a missing directory, are refused with nothing written', async () => {
    const dir = await tempDir();
    const { manifest, key } = await bundleWith(dir, 'a.img', 'a.img');
    const both = await unbundleCli(['-m', manifest, '-k', key, '-o', join(dir, 'x.img'), '-d', join(dir, 'd')]);
    assertOneLineError(both, 'BF_BAD_OPTION', /-o.*-d|-d.*-o/);
    assert.ok(!existsSync(join(dir, 'x.img')) && !existsSync(join(dir, 'd')));
    const missing = await unbundleCli(['-m', manifest, '-k', key, '-o', join(dir, 'nope', 'x.img')]);
    assertOneLineError(missing, 'BF_FILE_UNWRITABLE');
    assert.ok(!existsSync(join(dir, 'nope')));
  });
});
