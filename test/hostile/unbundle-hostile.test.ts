import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { DirectorySource, unbundle } from '@bundlefarm/engine';
import { ArchiveInvalidError, ManifestMalformedError, UnsafePathError } from '@bundlefarm/errors';
import { parseManifest } from '@bundlefarm/format';
import { bundlefarm } from '../helpers/cli.js';
import { craftBundle } from '../helpers/craft-bundle.js';
import { testIdentity, writeIdentity } from '../helpers/identity.js';
import { tempDir } from '../helpers/temp-dir.js';

function gnuTar(cwd: string, args: string[]): Buffer {
  const r = spawnSync('tar', ['-c', '--owner', '0', '--group', '0', ...args], { cwd, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout;
}

/**
 * Bundles whose signature, digests and encryption are all valid but whose tar stream is hostile:
 * unbundle must refuse each one with BF_ARCHIVE_INVALID and write nothing, anywhere.
 */
describe('unbundle refuses hostile tar content and writes nothing', () => {
  it('symlinks, hard links, traversal, absolute names, directories, several members', async () => {
    const dir = await tempDir();
    const src = join(dir, 'src');
    await mkdir(join(src, 'sub'), { recursive: true });
    await writeFile(join(src, 'a.img'), 'A'.repeat(5000));
    await writeFile(join(src, 'b.img'), 'B'.repeat(5000));
    await writeFile(join(src, 'sub', 'c.img'), 'C');
    await symlink('/etc/passwd', join(src, 'evil.img'));
    const cases: Array<[string, Buffer]> = [
      ['symlink to /etc/passwd', gnuTar(src, ['evil.img'])],
      ['hard link', gnuTar(src, ['a.img', 'a.img'])],
      ['../ traversal', gnuTar(src, ['--transform', 's,^,../../,', 'a.img'])],
      ['absolute path', gnuTar(src, ['-P', '--transform', 's,^,/tmp/,', 'a.img'])],
      ['name with /', gnuTar(src, ['sub/c.img'])],
      ['directory', gnuTar(src, ['--no-recursion', 'sub'])],
      ['two members', gnuTar(src, ['a.img', 'b.img'])],
      ['not tar at all', Buffer.from('just some bytes, no tar header '.repeat(100))],
    ];
    for (const [what, stream] of cases) {
      const bundleDir = join(dir, `bundle-${cases.findIndex((c) => c[0] === what)}`);
      const manifest = await craftBundle(bundleDir, 'a.img', stream, 5000);
      const dest = join(dir, `dest-${what.replace(/\W+/g, '-')}`);
      await assert.rejects(
        unbundle({ manifest: parseManifest(await readFile(manifest)), privateKey: testIdentity().privateKey, source: new DirectorySource(bundleDir), destination: dest }),
        (e: unknown) => e instanceof ArchiveInvalidError,
        what,
      );
      assert.deepEqual(await readdir(dest).catch(() => []), [], `${what}: destination stays empty (or is not made at all)`);
    }
    // nothing was created outside the destinations either
    assert.ok(!existsSync(join(dir, 'a.img')) && !existsSync(join(dirname(dir), 'a.img')) && !existsSync('/tmp/a.img'));
  });

  it('a bomb: a stream that decompresses beyond what the manifest size allows is cut short', async () => {
    const dir = await tempDir();
    // a valid tar stream of 64 MiB of zeros, but the manifest claims a 1 KiB image
    await writeFile(join(dir, 'z.img'), Buffer.alloc(64 * 1024 * 1024));
    const manifest = await craftBundle(join(dir, 'b'), 'z.img', gnuTar(dir, ['z.img']), 1024);
    await assert.rejects(
      unbundle({ manifest: parseManifest(await readFile(manifest)), privateKey: testIdentity().privateKey, source: new DirectorySource(join(dir, 'b')), destination: join(dir, 'out') }),
      (e: unknown) => e instanceof ArchiveInvalidError && /over the 1024-byte limit|more than the/.test(e.message),
    );
    assert.deepEqual(await readdir(join(dir, 'out')).catch(() => []), []);
  });

  it('manifests naming parts outside the source directory are refused before any read', async () => {
    const dir = await tempDir();
    const { key } = await writeIdentity(dir);
    await writeFile(join(dir, 'a.img'), 'x'.repeat(100));
    const manifestPath = await craftBundle(join(dir, 'b'), 'a.img', gnuTar(dir, ['a.img']), 100);
    const xml = await readFile(manifestPath, 'utf8');
    for (const evil of ['../a.img', '/etc/passwd', '..', 'a/../../b', 'x\\..\\y']) {
      const edited = xml.replace(/<filename>[^<]+<\/filename>/, `<filename>${evil}</filename>`);
      assert.throws(() => parseManifest(edited), ManifestMalformedError, evil);
      await writeFile(join(dir, 'evil.manifest.xml'), edited);
      const r = await bundlefarm(['unbundle', '-m', join(dir, 'evil.manifest.xml'), '-k', key, '-d', join(dir, 'never')]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /BF_MANIFEST_MALFORMED/);
      assert.ok(!existsSync(join(dir, 'never')));
    }
    // and the directory source itself refuses, even if handed such a name directly
    assert.throws(() => new DirectorySource(join(dir, 'b')).resolveName('../a.img'), UnsafePathError);
  });
});
