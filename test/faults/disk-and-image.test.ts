import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bundleImage, createBundle, DirectorySink, DirectorySource, unbundle, ThreadPool } from '@bundlefarm/engine';
import { FileUnreadableError, FileUnwritableError, isBundlefarmError } from '@bundlefarm/errors';
import { ec2CertificateForRegion, parseManifest } from '@bundlefarm/format';
import { testIdentity } from '../helpers/identity.js';
import { writeRandomFile } from '../helpers/images.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * Real disk faults: a full filesystem (a small tmpfs of the test's own) under bundle and unbundle, and
 * an image that shrinks while it is being read. Each must end in a clear typed error and leave nothing.
 */
const pool = new ThreadPool({ threads: 2 });
after(() => pool.close());

let small = '';
let mounted = false;

before(async () => {
  small = await mkdtemp(join(tmpdir(), 'bundlefarm-small-fs-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', small]);
  assert.equal(r.status, 0, `a 24 MiB tmpfs is needed for disk-full tests (run as root): ${r.stderr.toString()}`);
  mounted = true;
});

after(async () => {
  if (mounted) spawnSync('umount', [small]);
  await rm(small, { recursive: true, force: true });
});

describe('disk full', () => {
  it('bundle: ENOSPC is BF_FILE_UNWRITABLE (transient) and no part, temporary file or manifest is left', async () => {
    const dir = await tempDir();
    const image = join(dir, 'big.img');
    await writeRandomFile(image, 60 * 1024 * 1024, 4);
    const dest = join(small, 'bundle');
    await assert.rejects(
      createBundle(
        { image, pool, spec: { accountId: '123456789012', architecture: 'x86_64' }, user: testIdentity(), ec2Certificate: ec2CertificateForRegion() },
        new DirectorySink(dest),
      ),
      (e: unknown) => e instanceof FileUnwritableError && e.transient && e.details.errno === 'ENOSPC' && /no space left/.test(e.message),
    );
    assert.deepEqual(await readdir(dest).catch(() => []), [], 'nothing left (the directory it made is removed too)');
    await rm(dest, { recursive: true, force: true });
  });

  it('unbundle: ENOSPC is BF_FILE_UNWRITABLE and the partial image is removed', async () => {
    const dir = await tempDir();
    const image = join(dir, 'img');
    await writeRandomFile(image, 40 * 1024 * 1024, 5);
    const out = join(dir, 'bundle');
    const created = await createBundle(
      { image, pool, spec: { accountId: '123456789012', architecture: 'x86_64' }, user: testIdentity(), ec2Certificate: ec2CertificateForRegion() },
      new DirectorySink(out, { fsync: false }),
    );
    const dest = join(small, 'restore');
    await assert.rejects(
      unbundle({
        manifest: parseManifest(await readFile(join(out, created.manifestFile))),
        privateKey: testIdentity().privateKey,
        source: new DirectorySource(out),
        destination: dest,
      }),
      (e: unknown) => isBundlefarmError(e) && e.code === 'BF_FILE_UNWRITABLE',
    );
    assert.deepEqual(await readdir(dest).catch(() => []), [], 'nothing left (the directory it made is removed too)');
    await rm(dest, { recursive: true, force: true });
  });
});

describe('unreadable image mid-stream', () => {
  it('an image truncated while it is bundled fails with BF_FILE_UNREADABLE and leaves nothing', async () => {
    const dir = await tempDir();
    const image = join(dir, 'shrinking.img');
    await writeRandomFile(image, 200 * 1024 * 1024, 6);
    const dest = join(dir, 'out');
    // one thread and level 9 keep the bundle running long enough to cut the file under it
    const onePool = new ThreadPool({ threads: 1 });
    after(() => onePool.close());
    const p = bundleImage(
      {
        image,
        pool: onePool,
        level: 9,
        onProgress: (prog) => {
          if (prog.bytesIn > 20 * 1024 * 1024 && prog.bytesIn < 40 * 1024 * 1024) void truncate(image, 30 * 1024 * 1024);
        },
        progressIntervalMs: 0,
      },
      new DirectorySink(dest),
    );
    await assert.rejects(p, (e: unknown) => e instanceof FileUnreadableError && /shrank/.test(e.message));
    assert.deepEqual(await readdir(dest).catch(() => []), []);
  });

});

describe('a FIFO where a file is expected', () => {
  // without O_NONBLOCK, opening a FIFO waits for a writer: forever, on a libuv thread nothing can cancel
  const FIFO_TEST = { timeout: 30_000 };

  it('bundle of a FIFO is refused at once with BF_FILE_UNREADABLE, nothing written', FIFO_TEST, async () => {
    const dir = await tempDir();
    const fifo = join(dir, 'disk.img');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    const dest = join(dir, 'out');
    await assert.rejects(bundleImage({ image: fifo, pool }, new DirectorySink(dest)), (e: unknown) => {
      assert.ok(e instanceof FileUnreadableError, String(e));
      assert.equal(e.message, `cannot read ${fifo}: not a regular file (a FIFO)`);
      return true;
    });
    assert.deepEqual(await readdir(dest).catch(() => []), []);
  });

  it('a FIFO named like a part is refused at once when the bundle is read', FIFO_TEST, async () => {
    const dir = await tempDir();
    assert.equal(spawnSync('mkfifo', [join(dir, 'x.part.0')]).status, 0, 'mkfifo');
    await assert.rejects(new DirectorySource(dir).readPart('x.part.0', 1024 * 1024), (e: unknown) => {
      assert.ok(e instanceof FileUnreadableError, String(e));
      assert.match(e.message, /not a regular file \(a FIFO\)$/);
      return true;
    });
  });
});
