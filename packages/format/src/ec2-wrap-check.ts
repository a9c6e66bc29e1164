/*
 * Whether a manifest's EC2 key and IV can have been wrapped for a given EC2 certificate, without EC2's
 * private key: an RSA ciphertext has exactly the modulus' length and is smaller than the modulus. That
 * tells a China-partition manifest (2048-bit certificate) from the others for sure, and the standard
 * and GovCloud partitions (1024-bit both) apart whenever a ciphertext is at least the other's modulus —
 * enough to refuse many wrong uploads before any byte goes up, never to refuse a right one.
 */
import type { KeyObject } from 'node:crypto';
import type { BundleManifest } from './manifest.js';

export type Ec2WrapFit =
  | { fits: true }
  | { fits: false; reason: string };

export function ec2WrapFits(manifest: BundleManifest, ec2PublicKey: KeyObject): Ec2WrapFit {
  const jwk = ec2PublicKey.export({ format: 'jwk' });
  if (typeof jwk.n !== 'string') return { fits: true };
  const modulus = Buffer.from(jwk.n, 'base64url');
  const n = BigInt(`0x${modulus.toString('hex')}`);
  const bytes = Math.ceil(n.toString(2).length / 8);
  for (const [what, hex] of [
    ['key', manifest.image.ec2EncryptedKey],
    ['IV', manifest.image.ec2EncryptedIv],
  ] as const) {
    if (hex.length !== bytes * 2) {
      return { fits: false, reason: `its EC2 ${what} is wrapped for a ${hex.length * 4}-bit key, this certificate's is ${bytes * 8}-bit` };
    }
    if (!/^[0-9a-fA-F]+$/.test(hex) || BigInt(`0x${hex}`) >= n) {
      return { fits: false, reason: `its EC2 ${what} is not a ciphertext of this certificate's key` };
    }
  }
  return { fits: true };
}
