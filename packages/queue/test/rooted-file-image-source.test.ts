import assert from 'node:assert/strict';
import { mkdir, realpath, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FileImageSource } from '@bundlefarm/engine';
import { FileUnreadableError, UnsafePathError } from '@bundlefarm/errors';
import { isInside, RootedFileImageSource } from '@bundlefarm/queue';
import { tempDir } from '../../../test/helpers/temp-dir.js';

/** Local images: inside the image root, whatever symlinks (or races) the path goes through. */

async function layout(): Promise<{ root: string; outside: string }> {
  const dir = await realpath(await tempDir());
  const root = join(dir, 'root');
  const outside = join(dir, 'outside');
  await mkdir(join(root, 'sub'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(root, 'sub', 'disk.img'), 'inside!');
  await writeFile(join(outside, 'disk.img'), 'OUTSIDE');
  return { root, outside };
}

async function readAll(source: RootedFileImageSource): Promise<string> {
  const info = await source.open();
  try {
    const buf = new Uint8Array(info.size);
    await source.read(0, buf);
    return Buffer.from(buf).toString();
  } finally {
    await source.close();
  }
}

describe('RootedFileImageSource', () => {
  it('reads a file inside the root, named as the job named it', async () => {
    const { root } = await layout();
    await symlink('sub/disk.img', join(root, 'latest.img'));
    const direct = await RootedFileImageSource.resolve(root, 'sub/disk.img');
    assert.ok(direct instanceof FileImageSource, 'the engine treats it as a file (sparse support)');
    assert.equal(direct.defaultName, 'disk.img');
    assert.equal(await readAll(direct), 'inside!');
    const viaLink = await RootedFileImageSource.resolve(root, 'latest.img');
    assert.equal(viaLink.defaultName, 'latest.img');
    assert.equal(viaLink.description, 'latest.img');
    assert.equal(await readAll(viaLink), 'inside!');
  });

  it('refuses paths that leave the root: .., absolute, symlinked files and directories', async () => {
    const { root, outside } = await layout();
    await symlink(join(outside, 'disk.img'), join(root, 'escape.img'));
    await symlink('../outside', join(root, 'linkdir'));
    for (const p of ['../outside/disk.img', 'sub/../../outside/disk.img', join(outside, 'disk.img'), 'escape.img', 'linkdir/disk.img']) {
      await assert.rejects(RootedFileImageSource.resolve(root, p), (err) => {
        assert.ok(err instanceof UnsafePathError, `${p}: ${String(err)}`);
        assert.ok(!err.message.includes(root), 'the server path is not disclosed');
        return true;
      });
    }
  });

  it('refuses a directory swapped for a symlink after the check (device and inode compared after open)', async () => {
    const { root, outside } = await layout();
    const source = await RootedFileImageSource.resolve(root, 'sub/disk.img');
    await rename(join(root, 'sub'), join(root, 'sub.orig'));
    await symlink(outside, join(root, 'sub'));
    await assert.rejects(source.open(), UnsafePathError);
  });

  it('refuses a file swapped for a symlink after the check (not followed)', async () => {
    const { root, outside } = await layout();
    const source = await RootedFileImageSource.resolve(root, 'sub/disk.img');
    await rename(join(root, 'sub', 'disk.img'), join(root, 'sub', 'disk.orig'));
    await symlink(join(outside, 'disk.img'), join(root, 'sub', 'disk.img'));
    await assert.rejects(source.open(), UnsafePathError);
  });

  it('a missing file or a directory is unreadable (permanent)', async () => {
    const { root } = await layout();
    await assert.rejects(RootedFileImageSource.resolve(root, 'nope.img'), (err) => err instanceof FileUnreadableError && !err.transient);
    const dirSource = await RootedFileImageSource.resolve(root, 'sub');
    await assert.rejects(dirSource.open(), FileUnreadableError);
  });

  it('isInside: strictly below the root, names starting with ".." included', () => {
    assert.equal(isInside('/srv/images', '/srv/images/a.img'), true);
    assert.equal(isInside('/srv/images', '/srv/images/..a.img'), true);
    assert.equal(isInside('/srv/images', '/srv/images'), false);
    assert.equal(isInside('/srv/images', '/srv/images-2/a.img'), false);
    assert.equal(isInside('/srv/images', '/srv/a.img'), false);
  });
});
