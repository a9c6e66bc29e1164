import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, realpath, rename, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { bundleImage, DirectorySink, ThreadPool } from '@bundlefarm/engine';
import { FileUnreadableError, isBundlefarmError, UnsafePathError } from '@bundlefarm/errors';
import { isInside } from '@bundlefarm/queue';
import { RootedFileImageSource } from '@bundlefarm/queue/worker';
import { randomIslands, writeRandomFile, writeSparseImage } from '@bundlefarm/testkit/images.js';
import { tempDir } from '@bundlefarm/testkit/temp-dir.js';

/** Local images: inside the image root, whatever symlinks (or races) the path goes through. */

const pool = new ThreadPool({ threads: 1 });
after(() => pool.close());

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

/** How `p` fails, from `resolve` or else from `open`: code and message with the path itself taken out. */
async function failureOf(root: string, p: string): Promise<{ code: string; message: string; transient: boolean; details: unknown }> {
  try {
    const source = await RootedFileImageSource.resolve(root, p);
    await source.open();
    await source.close();
  } catch (err) {
    assert.ok(isBundlefarmError(err), String(err));
    assert.ok(!err.message.includes(root), `the server path is not disclosed: ${err.message}`);
    return { code: err.code, message: err.message.split(p).join('<path>'), transient: err.transient, details: { ...err.details, path: '<path>' } };
  }
  assert.fail(`${p} was accepted`);
}

describe('RootedFileImageSource', () => {
  it('reads a file inside the root, named as the job named it', async () => {
    const { root } = await layout();
    await symlink('sub/disk.img', join(root, 'latest.img'));
    const direct = await RootedFileImageSource.resolve(root, 'sub/disk.img');
    assert.equal(direct.defaultName, 'disk.img');
    assert.equal(await readAll(direct), 'inside!');
    const viaLink = await RootedFileImageSource.resolve(root, 'latest.img');
    assert.equal(viaLink.defaultName, 'latest.img');
    assert.equal(viaLink.description, 'latest.img');
    assert.equal(await readAll(viaLink), 'inside!');
    // relative and absolute symlinks that stay inside, through directories and back up with ..
    await symlink(join(root, 'sub'), join(root, 'abs-dir'));
    await symlink('abs-dir/../sub/disk.img', join(root, 'winding.img'));
    assert.equal(await readAll(await RootedFileImageSource.resolve(root, 'winding.img')), 'inside!');
  });

  it('refuses paths whose text leaves the root: .. and absolute (BF_UNSAFE_PATH)', async () => {
    const { root, outside } = await layout();
    for (const p of ['../outside/disk.img', 'sub/../../outside/disk.img', join(outside, 'disk.img'), '.']) {
      await assert.rejects(RootedFileImageSource.resolve(root, p), (err) => {
        assert.ok(err instanceof UnsafePathError, `${p}: ${String(err)}`);
        assert.ok(!err.message.includes(root), 'the server path is not disclosed');
        return true;
      });
    }
  });

  it('a symlink out of the root fails exactly like a missing file: no existence oracle outside the root', async () => {
    const { root, outside } = await layout();
    await symlink(join(outside, 'disk.img'), join(root, 'escape.img'));
    await symlink(join(outside, 'nothing-here.img'), join(root, 'escape-missing.img'));
    await symlink('../outside', join(root, 'linkdir'));
    await symlink('/', join(root, 'rootlink'));
    await symlink('sub/../../outside/disk.img', join(root, 'climb.img'));
    await symlink('loop-b', join(root, 'loop-a'));
    await symlink('loop-a', join(root, 'loop-b'));
    const missing = await failureOf(root, 'nope.img');
    assert.equal(missing.code, 'BF_FILE_UNREADABLE');
    assert.equal(missing.transient, false);
    assert.match(missing.message, /^cannot read <path>: ENOENT \(no such file or directory\)$/);
    for (const p of ['sub/nope.img', 'escape.img', 'escape-missing.img', 'linkdir/disk.img', 'linkdir/nothing-here.img', 'rootlink/etc/passwd', 'rootlink/etc/nonexistent-file', 'climb.img', 'loop-a', 'sub/disk.img/x']) {
      assert.deepEqual(await failureOf(root, p), missing, p);
    }
  });

  it('a directory swapped for a symlink out of the root after the check is refused like a missing file', async () => {
    const { root, outside } = await layout();
    const source = await RootedFileImageSource.resolve(root, 'sub/disk.img');
    await rename(join(root, 'sub'), join(root, 'sub.orig'));
    await symlink(outside, join(root, 'sub'));
    await assert.rejects(source.open(), (err) => err instanceof FileUnreadableError && /ENOENT/.test(err.message));
  });

  it('a file swapped for a symlink after the check is not followed', async () => {
    const { root, outside } = await layout();
    const source = await RootedFileImageSource.resolve(root, 'sub/disk.img');
    await rename(join(root, 'sub', 'disk.img'), join(root, 'sub', 'disk.orig'));
    await symlink(join(outside, 'disk.img'), join(root, 'sub', 'disk.img'));
    await assert.rejects(source.open(), (err) => err instanceof FileUnreadableError && /ENOENT/.test(err.message));
  });

  it('a directory is unreadable (permanent)', async () => {
    const { root } = await layout();
    const dirSource = await RootedFileImageSource.resolve(root, 'sub');
    await assert.rejects(dirSource.open(), (err) => err instanceof FileUnreadableError && !err.transient && /EISDIR/.test(err.message));
  });

  it('a FIFO, a socket and a device node are refused at once, as not a regular file', async (t) => {
    const { root } = await layout();
    assert.equal(spawnSync('mkfifo', [join(root, 'fifo.img')]).status, 0, 'mkfifo');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(root, 'socket.img'), resolve));
    t.after(() => server.close());
    const kinds: Array<[string, string]> = [
      ['fifo.img', 'a FIFO'],
      ['socket.img', 'a socket'],
    ];
    const mknod = spawnSync('mknod', [join(root, 'null.img'), 'c', '1', '3']);
    if (mknod.status === 0) kinds.push(['null.img', 'a character device']);
    else t.diagnostic(`device node not tested: mknod is not permitted here (${mknod.stderr.toString().trim()})`);
    for (const [name, kind] of kinds) {
      // a FIFO without a writer: an open without O_NONBLOCK would wait for one forever
      const source = await RootedFileImageSource.resolve(root, name);
      await assert.rejects(source.open(), (err) => {
        assert.ok(err instanceof FileUnreadableError, `${name}: ${String(err)}`);
        assert.equal(err.message, `cannot read ${name}: not a regular file (${kind})`);
        assert.equal(err.transient, false);
        return true;
      });
      assert.equal(source.fd, undefined);
    }
  });

  it('reads through the descriptor it verified: fd is set, the sparse scan uses SEEK_DATA on it, the path is not opened again', async () => {
    const { root } = await layout();
    const size = 64 * 1024 * 1024;
    const islands = randomIslands(size, 8, 50_000);
    await writeSparseImage(join(root, 'sparse.img'), size, islands);
    const source = await RootedFileImageSource.resolve(root, 'sparse.img');
    assert.equal(source.fd, undefined, 'not open yet');
    const info = await source.open();
    assert.equal(typeof source.fd, 'number', 'the verified descriptor is exposed');
    assert.deepEqual(await source.open(), info, 'a second open answers the same, without opening again');
    // the path now names another file (full of data, no holes): whatever is read or scanned must still
    // come from the file that was opened and checked
    await rename(join(root, 'sparse.img'), join(root, 'sparse.orig'));
    await writeRandomFile(join(root, 'sparse.img'), size, 9);
    const out = join(await tempDir(), 'bundle');
    const result = await bundleImage({ image: source, pool, level: 1 }, new DirectorySink(out, { fsync: false }));
    assert.equal(result.stats.sparseScan, 'seek-data', 'the filesystem was asked through the descriptor');
    assert.equal(result.stats.sparse, true, 'the holes of the opened file were found');
    assert.ok(result.stats.tarBytes < 2 * 1024 * 1024, `only the islands were read (${result.stats.tarBytes} tar bytes)`);
    assert.equal(source.fd, undefined, 'closed by the engine');
  });

  it('isInside: strictly below the root, names starting with ".." included', () => {
    assert.equal(isInside('/srv/images', '/srv/images/a.img'), true);
    assert.equal(isInside('/srv/images', '/srv/images/..a.img'), true);
    assert.equal(isInside('/srv/images', '/srv/images'), false);
    assert.equal(isInside('/srv/images', '/srv/images-2/a.img'), false);
    assert.equal(isInside('/srv/images', '/srv/a.img'), false);
  });
});
