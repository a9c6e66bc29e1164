import { createCipheriv, createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildSignedManifest, ec2CertificateForRegion, generateBundleSecret, PART_SIZE, partName } from '@bundlefarm/format';
import { testIdentity } from './identity.js';

/**
 * A correctly encrypted and signed bundle around ANY tar stream (or any bytes): for tests of what
 * unbundle does with hostile content that a real bundler would never produce.
 */
export async function craftBundle(dir: string, name: string, content: Buffer, imageSize: number): Promise<string> {
  await mkdir(dir, { recursive: true });
  const secret = generateBundleSecret();
  const c = createCipheriv('aes-128-cbc', secret.key, secret.iv);
  const cipher = Buffer.concat([c.update(gzipSync(content)), c.final()]);
  const count = Math.max(1, Math.ceil(cipher.length / PART_SIZE));
  const parts = [];
  for (let i = 0; i < count; i++) {
    const data = cipher.subarray(i * PART_SIZE, (i + 1) * PART_SIZE);
    const filename = partName(name, i, count);
    await writeFile(join(dir, filename), data);
    parts.push({ index: i, filename, digest: createHash('sha1').update(data).digest('hex') });
  }
  const { xml } = buildSignedManifest(
    { name, accountId: '123456789012', architecture: 'x86_64' },
    { digest: createHash('sha1').update(content).digest('hex'), size: imageSize, bundledSize: cipher.length, parts },
    secret,
    testIdentity(),
    ec2CertificateForRegion(),
  );
  const manifest = join(dir, `${name}.manifest.xml`);
  await writeFile(manifest, xml);
  return manifest;
}
