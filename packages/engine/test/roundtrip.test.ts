import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createBundle, DirectorySink, DirectorySource, unbundle, verifyBundle, ThreadPool } from '@bundlefarm/engine';
import {
  ArchiveInvalidError,
  DestinationExistsError,
  ImageDigestMismatchError,
  PartMissingError,
  PartTamperedError,
  SignatureInvalidError,
  UnsafePathError,
  WrongKeyError,
} from '@bundlefarm/errors';
import {
  PART_SIZE,
  ec2CertificateForRegion,
  generateSelfSignedIdentity,
  parseCertificate,
  parseManifest,
  parsePrivateKey,
  serializeManifest,
  signManifestText,
} from '@bundlefarm/format';
import { loadNative } from '@bundlefarm/native';
import { sha256File } from '@bundlefarm/testkit/file-hash.js';
import { SMALL } from '@bundlefarm/testkit/fixtures.js';
import { testIdentity } from '@bundlefarm/testkit/identity.js';
import { writeRandomFile } from '@bundlefarm/testkit/images.js';
import { slowOnly } from '@bundlefarm/testkit/requirements.js';
import { tempDir } from '@bundlefarm/testkit/temp-dir.js';

const pool = new ThreadPool({ threads: 2 });
after(() => pool.close());

const spec = { accountId: '123456789012', architecture: 'x86_64' };

/** Bundles into `out`; the sink is returned to look at how it wrote. */
async function bundleDir(image: string, out: string) {
  const sink = new DirectorySink(out, { fsync: false });
  const created = await createBundle({ image, pool, spec, user: testIdentity(), ec2Certificate: ec2CertificateForRegion('us-east-1') }, sink);
  return Object.assign(created, { sink });
}

/** With the addon (its core: libdeflate plays no part), the engine aligns every part so the sink writes them all with O_DIRECT. */
const expectDirect = loadNative().binding !== null;

describe('bundle → unbundle round trips across part-naming edges', () => {
  // random data does not compress, so the part count follows the image size
  for (const [parts, size] of [
    [1, 5 * 1024 * 1024],
    [9, 9 * PART_SIZE - 1024 * 1024],
    [10, 10 * PART_SIZE - 1024 * 1024],
    [11, 11 * PART_SIZE - 1024 * 1024],
    [101, 101 * PART_SIZE - 1024 * 1024],
  ] as const) {
    const skip = parts > 100 ? slowOnly(`${parts} parts, ${Math.round(size / 2 ** 20)} MiB of random data`) : false;
    it(`${parts} part(s): ec2 names, 10 MiB parts, identical image back`, { skip }, async () => {
      const dir = await tempDir();
      const image = join(dir, 'disk.img');
      await writeRandomFile(image, size, parts);
      const out = join(dir, 'bundle');
      const created = await bundleDir(image, out);
      const names = created.result.facts.parts.map((p) => p.filename);
      assert.equal(names.length, parts);
      const width = String(parts).length;
      assert.deepEqual(names, Array.from({ length: parts }, (_, i) => `disk.img.part.${String(i).padStart(width, '0')}`));
      for (const [i, name] of names.entries()) {
        const st = await stat(join(out, name));
        if (i < parts - 1) assert.equal(st.size, PART_SIZE, name);
        else assert.ok(st.size > 0 && st.size <= PART_SIZE);
      }
      assert.deepEqual((await readdir(out)).sort(), [...names, 'disk.img.manifest.xml'].sort(), 'nothing else in the directory');
      assert.deepEqual(created.sink.writes, expectDirect ? { direct: parts, buffered: 0 } : { direct: 0, buffered: parts });
      const parsed = parseManifest(await readFile(join(out, 'disk.img.manifest.xml')));
      await verifyBundle({ manifest: parsed, source: new DirectorySource(out), certificate: testIdentity().certificate });
      const back = join(dir, 'back');
      const result = await unbundle({ manifest: parsed, privateKey: testIdentity().privateKey, source: new DirectorySource(out), destination: back });
      assert.equal(result.path, join(back, 'disk.img'));
      assert.equal(await sha256File(result.path), await sha256File(image));
      await rm(dir, { recursive: true, force: true });
    });
  }
});

describe('reading what ec2-ami-tools 1.5.3 wrote', () => {
  it('unbundles the real fixture with its throwaway key, byte for byte, checking its signature', async () => {
    const dir = await tempDir();
    const parsed = parseManifest(await readFile(join(SMALL, 'small.img.manifest.xml')));
    const result = await unbundle({
      manifest: parsed,
      privateKey: parsePrivateKey(await readFile(join(SMALL, 'user-key.pem')), 'user-key.pem'),
      certificate: parseCertificate(await readFile(join(SMALL, 'user-cert.pem')), 'user-cert.pem'),
      source: new DirectorySource(SMALL),
      destination: dir,
    });
    assert.ok((await readFile(result.path)).equals(await readFile(join(SMALL, 'small.img'))));
  });
});

describe('unbundle and verify refuse bad bundles with typed errors and leave nothing', () => {
  async function setup() {
    const dir = await tempDir();
    const image = join(dir, 'small.img');
    await writeRandomFile(image, 25 * 1024 * 1024, 7);
    const out = join(dir, 'bundle');
    const created = await bundleDir(image, out);
    return { dir, out, created, manifestPath: join(out, created.manifestFile) };
  }

  it('wrong key → BF_WRONG_KEY', async () => {
    const { dir, out, manifestPath } = await setup();
    const other = generateSelfSignedIdentity();
    await assert.rejects(
      unbundle({ manifest: parseManifest(await readFile(manifestPath)), privateKey: other.privateKey, source: new DirectorySource(out), destination: join(dir, 'x') }),
      WrongKeyError,
    );
    await assert.rejects(stat(join(dir, 'x', 'small.img')));
  });

  it('tampered part N → BF_PART_TAMPERED naming it, before anything is written', async () => {
    const { dir, out, created, manifestPath } = await setup();
    const victim = created.result.facts.parts[1]!.filename;
    const bytes = await readFile(join(out, victim));
    bytes[12345] = bytes[12345]! ^ 0xff;
    await writeFile(join(out, victim), bytes);
    const parsed = parseManifest(await readFile(manifestPath));
    await assert.rejects(verifyBundle({ manifest: parsed, source: new DirectorySource(out) }), (e: unknown) => e instanceof PartTamperedError && e.message.includes(victim) && e.details.index === 1);
    const dest = join(dir, 'x');
    await assert.rejects(
      unbundle({ manifest: parsed, privateKey: testIdentity().privateKey, source: new DirectorySource(out), destination: dest }),
      (e: unknown) => e instanceof PartTamperedError && e.details.index === 1,
    );
    assert.ok(!existsSync(dest), 'no image, no temporary file, not even the directory it made');
  });

  it('missing part → BF_PART_MISSING naming it', async () => {
    const { out, created, manifestPath } = await setup();
    const victim = created.result.facts.parts[2]!.filename;
    await rm(join(out, victim));
    await assert.rejects(
      verifyBundle({ manifest: parseManifest(await readFile(manifestPath)), source: new DirectorySource(out) }),
      (e: unknown) => e instanceof PartMissingError && e.message.includes(victim),
    );
  });

  it('image digest mismatch → BF_IMAGE_DIGEST_MISMATCH; signature check catches the edit first', async () => {
    const { dir, out, manifestPath } = await setup();
    const parsed = parseManifest(await readFile(manifestPath));
    parsed.manifest.image.digest = '0'.repeat(40);
    delete parsed.manifest.signature;
    parsed.manifest.signature = signManifestText(serializeManifest(parsed.manifest), testIdentity().privateKey.key);
    const forged = parseManifest(serializeManifest(parsed.manifest));
    await assert.rejects(
      unbundle({ manifest: forged, privateKey: testIdentity().privateKey, source: new DirectorySource(out), destination: join(dir, 'y') }),
      ImageDigestMismatchError,
    );
    await assert.rejects(stat(join(dir, 'y', 'small.img')));
    const edited = parseManifest((await readFile(manifestPath, 'utf8')).replace(/<digest algorithm='SHA1'>[0-9a-f]{40}/, `<digest algorithm='SHA1'>${'1'.repeat(40)}`));
    await assert.rejects(
      unbundle({ manifest: edited, privateKey: testIdentity().privateKey, certificate: testIdentity().certificate, source: new DirectorySource(out), destination: join(dir, 'z') }),
      SignatureInvalidError,
    );
  });

  it('refuses to overwrite an existing file unless asked, and never reads outside the source', async () => {
    const { dir, out, manifestPath } = await setup();
    const parsed = parseManifest(await readFile(manifestPath));
    const dest = join(dir, 'dest');
    await (await import('node:fs/promises')).mkdir(dest);
    await writeFile(join(dest, 'small.img'), 'precious');
    await assert.rejects(unbundle({ manifest: parsed, privateKey: testIdentity().privateKey, source: new DirectorySource(out), destination: dest }), DestinationExistsError);
    assert.equal(await readFile(join(dest, 'small.img'), 'utf8'), 'precious');
    await unbundle({ manifest: parsed, privateKey: testIdentity().privateKey, source: new DirectorySource(out), destination: dest, overwrite: true });
    assert.equal(await sha256File(join(dest, 'small.img')), await sha256File(join(dir, 'small.img')));
    assert.throws(() => new DirectorySource(out).resolveName('../small.img'), UnsafePathError);
  });

  it('a bundle whose content is not a tar stream → BF_ARCHIVE_INVALID', async () => {
    const { dir } = await setup();
    // a "bundle" made by encrypting gzip of random bytes, with a matching manifest
    const { gzipSync } = await import('node:zlib');
    const { createCipheriv, randomBytes } = await import('node:crypto');
    const { buildSignedManifest, generateBundleSecret } = await import('@bundlefarm/format');
    const secret = generateBundleSecret();
    const plain = randomBytes(20000);
    const c = createCipheriv('aes-128-cbc', secret.key, secret.iv);
    const cipher = Buffer.concat([c.update(gzipSync(plain)), c.final()]);
    const out = join(dir, 'evil');
    await (await import('node:fs/promises')).mkdir(out);
    await writeFile(join(out, 'e.part.0'), cipher);
    const m = buildSignedManifest(
      { name: 'e', accountId: '123456789012', architecture: 'x86_64' },
      { digest: createHash('sha1').update(plain).digest('hex'), size: 20000, bundledSize: cipher.length, parts: [{ index: 0, filename: 'e.part.0', digest: createHash('sha1').update(cipher).digest('hex') }] },
      secret,
      testIdentity(),
      ec2CertificateForRegion(),
    );
    const dest = join(dir, 'evil-out');
    await assert.rejects(
      unbundle({ manifest: parseManifest(m.xml), privateKey: testIdentity().privateKey, source: new DirectorySource(out), destination: dest }),
      ArchiveInvalidError,
    );
    assert.ok(!existsSync(dest), 'nothing left, not even the directory it made');
  });
});
