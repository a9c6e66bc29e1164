import { constants, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import type forge from 'node-forge';
import { WrongKeyError } from '@bundlefarm/errors';
import type { PrivateKeyMaterial } from './key-material.js';
import { nodeForge } from './lazy-modules.js';

/**
 * The AES-128-CBC key and IV of a bundle. ec2-ami-tools turns the 16 random bytes of each into a
 * 32-char lowercase hex string at once and RSA-encrypts that *string* (PKCS#1 v1.5), so do we.
 * Never log, serialize into a job or print these.
 */
export interface BundleSecret {
  key: Buffer;
  iv: Buffer;
}

export function generateBundleSecret(): BundleSecret {
  return { key: randomBytes(16), iv: randomBytes(16) };
}

/** RSAES-PKCS1-v1_5 encryption of the 32-char lowercase hex string of `value`, as lowercase hex. */
export function wrapForKey(value: Buffer, publicKey: KeyObject): string {
  return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(value.toString('hex'), 'ascii')).toString('hex');
}

const forgeKeys = new WeakMap<KeyObject, forge.pki.rsa.PrivateKey>();

function forgeKeyOf(key: KeyObject): forge.pki.rsa.PrivateKey {
  let fk = forgeKeys.get(key);
  if (!fk) {
    // Node 20 refuses PKCS#1 v1.5 private decryption (CVE-2023-46809); node-forge does it in JS.
    fk = nodeForge().pki.privateKeyFromPem(key.export({ type: 'pkcs1', format: 'pem' }) as string);
    forgeKeys.set(key, fk);
  }
  return fk;
}

/**
 * Decrypt a wrapped key or IV (hex of the RSA ciphertext) with the user's private key. Throws
 * WrongKeyError when the padding check fails or the plaintext is not a 32-char hex string, which is what
 * happens when the bundle was made for another key.
 */
export function unwrapWithKey(wrappedHex: string, key: PrivateKeyMaterial, what: 'key' | 'IV'): Buffer {
  const fk = forgeKeyOf(key.key);
  const modulusBytes = Math.ceil(fk.n.bitLength() / 8);
  if (!/^[0-9a-fA-F]*$/.test(wrappedHex) || wrappedHex.length !== modulusBytes * 2) {
    throw new WrongKeyError(key.source, `AES ${what}`, {
      details: { reason: `the wrapped ${what} is ${wrappedHex.length / 2} bytes; this key's modulus is ${modulusBytes}` },
    });
  }
  let plain: string;
  try {
    plain = fk.decrypt(nodeForge().util.hexToBytes(wrappedHex), 'RSAES-PKCS1-V1_5');
  } catch (err) {
    throw new WrongKeyError(key.source, `AES ${what}`, { cause: err });
  }
  if (!/^[0-9a-fA-F]{32}$/.test(plain)) throw new WrongKeyError(key.source, `AES ${what}`);
  return Buffer.from(plain, 'hex');
}
