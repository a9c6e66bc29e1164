import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSelfSignedIdentity, type GeneratedIdentity } from '@bundlefarm/format';

let cached: GeneratedIdentity | undefined;

/** One throwaway RSA-2048 identity per test process (key generation costs ~100 ms). */
export function testIdentity(): GeneratedIdentity {
  cached ??= generateSelfSignedIdentity({ commonName: 'bundlefarm tests' });
  return cached;
}

/** Writes the identity's key and certificate as PEM files into `dir`. */
export async function writeIdentity(dir: string, identity = testIdentity()): Promise<{ key: string; cert: string }> {
  const key = join(dir, 'user-key.pem');
  const cert = join(dir, 'user-cert.pem');
  await writeFile(key, identity.privateKeyPem, { mode: 0o600 });
  await writeFile(cert, identity.certificatePem);
  return { key, cert };
}
