/*
 * Weak user keys (security re-review R11): an RSA key under 2048 bits signs no new bundle — the CLI's
 * bundle and migrate-manifest and a worker's identities (at start-up) refuse it with BF_WEAK_KEY, before any byte is
 * written — while bundles such a key made before are still read: verify with its certificate, unbundle
 * with it. EC2's own certificates (1024-bit, mandated by the format) are still wrapped for.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  assertCertificateMatchesKey,
  ec2CertificateForPartition,
  generateSelfSignedIdentity,
  parseCertificate,
  parseManifest,
  parsePrivateKey,
  serializeManifest,
  signManifestText,
  unwrapWithKey,
  wrapForKey,
} from '@bundlefarm/format';
import { WeakKeyError } from '@bundlefarm/errors';
import { loadWorkerConfig, WorkerConfigError } from '@bundlefarm/queue/worker';
import { assertOneLineError, bundlefarm } from '@bundlefarm/testkit/cli.js';
import { writeIdentity } from '@bundlefarm/testkit/identity.js';
import { textLike } from '@bundlefarm/testkit/images.js';
import { tempDir } from '@bundlefarm/testkit/temp-dir.js';

async function setup() {
  const dir = await tempDir();
  const strong = await writeIdentity(join(dir));
  const weakIdentity = generateSelfSignedIdentity({ bits: 1024 });
  const weak = { key: join(dir, 'weak-key.pem'), cert: join(dir, 'weak-cert.pem') };
  await writeFile(weak.key, weakIdentity.privateKeyPem, { mode: 0o600 });
  await writeFile(weak.cert, weakIdentity.certificatePem);
  const image = join(dir, 'root.img');
  await writeFile(image, textLike(256 * 1024));
  return { dir, strong, weak, image };
}

const bundleArgs = (image: string, id: { key: string; cert: string }, dest: string): string[] => [
  'bundle', '-i', image, '-c', id.cert, '-k', id.key, '-u', '123456789012', '-r', 'x86_64', '-d', dest,
];

describe('weak user keys', { timeout: 120_000 }, () => {
  it('bundle with a 1024-bit key: BF_WEAK_KEY naming the size and the minimum, nothing written', async () => {
    const s = await setup();
    const out = join(s.dir, 'out');
    const r = await bundlefarm(bundleArgs(s.image, s.weak, out));
    assertOneLineError(r, 'BF_WEAK_KEY', /1024-bit RSA, at least 2048 bits/);
    const written = await readdir(out).catch(() => []);
    assert.deepEqual(written.filter((f) => !f.startsWith('.')), [], 'no part or manifest written');
  });

  it('a bundle a 1024-bit key made before still verifies and unbundles with it', async () => {
    const s = await setup();
    const out = join(s.dir, 'out');
    assert.equal((await bundlefarm(bundleArgs(s.image, s.strong, out))).code, 0);
    // what an older tool made with the weak key: the AES key and IV wrapped for its certificate, signed by it
    const manifestPath = join(out, 'root.img.manifest.xml');
    const { manifest } = parseManifest(await readFile(manifestPath));
    const strongKey = parsePrivateKey(await readFile(s.strong.key), 'strong');
    const weakKey = parsePrivateKey(await readFile(s.weak.key), 'weak');
    const weakCert = parseCertificate(await readFile(s.weak.cert), 'weak cert');
    manifest.image.userEncryptedKey = wrapForKey(unwrapWithKey(manifest.image.userEncryptedKey, strongKey, 'key'), weakCert.publicKey);
    manifest.image.userEncryptedIv = wrapForKey(unwrapWithKey(manifest.image.userEncryptedIv, strongKey, 'IV'), weakCert.publicKey);
    delete manifest.signature;
    manifest.signature = signManifestText(serializeManifest(manifest), weakKey.key);
    await writeFile(manifestPath, serializeManifest(manifest));

    const v = await bundlefarm(['verify', '-m', manifestPath, '-c', s.weak.cert]);
    assert.equal(v.code, 0, v.stderr);
    const back = join(s.dir, 'back');
    const u = await bundlefarm(['unbundle', '-m', manifestPath, '-k', s.weak.key, '-s', out, '-d', back]);
    assert.equal(u.code, 0, u.stderr);
    assert.ok((await readFile(join(back, 'root.img'))).equals(await readFile(s.image)), 'the image comes back');
  });

  it("refuses weak keys where an identity is put together; EC2's 1024-bit certificates are still used", async () => {
    const weak = generateSelfSignedIdentity({ bits: 1024 });
    assert.throws(() => assertCertificateMatchesKey(weak.certificate, weak.privateKey), (err) => err instanceof WeakKeyError && err.code === 'BF_WEAK_KEY');
    const strong = generateSelfSignedIdentity({ bits: 2048 });
    assert.doesNotThrow(() => assertCertificateMatchesKey(strong.certificate, strong.privateKey));
    for (const partition of ['aws', 'aws-us-gov'] as const) {
      const cert = ec2CertificateForPartition(partition);
      assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 1024, partition);
      assert.equal(wrapForKey(Buffer.alloc(16, 7), cert.publicKey).length, 256, `${partition}: wrapped for`);
    }
  });

  it('a worker with a weak identity does not start: the identity is named with BF_WEAK_KEY', async () => {
    const s = await setup();
    const file = join(s.dir, 'worker.json');
    await writeFile(file, JSON.stringify({ identities: { strong: s.strong, weak: s.weak } }));
    await assert.rejects(loadWorkerConfig({ BUNDLEFARM_CONFIG: file }), (err) => {
      assert.ok(err instanceof WorkerConfigError, String(err));
      assert.deepEqual(err.problems.map((p) => p.path), ['identities.weak']);
      assert.match(err.problems[0]!.message, /BF_WEAK_KEY.*1024-bit RSA/);
      return true;
    });
  });
});
