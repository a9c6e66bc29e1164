import { createPrivateKey, createPublicKey, X509Certificate, type JsonWebKey, type KeyObject } from 'node:crypto';
import { CertificateKeyMismatchError, InvalidCertificateError, InvalidKeyError, WeakKeyError } from '@bundlefarm/errors';
import { readBoundedFile } from './bounded-file.js';

/**
 * Loading of the user's RSA private key and X.509 certificates, with errors that say what is wrong
 * (truncated PEM, encrypted key without passphrase, a legacy cipher, an OpenSSH key, a corrupt key,
 * not RSA, certificate of another key, not a key file at all). Every error names the source (a file
 * path or a configured name), never the key material.
 */
export interface PrivateKeyMaterial {
  /** Where the key came from, for messages: a path or a configured name. */
  source: string;
  key: KeyObject;
}

export interface CertificateMaterial {
  source: string;
  certificate: X509Certificate;
  publicKey: KeyObject;
}

export interface PrivateKeyOptions {
  /** Where a passphrase is taken from, named when one is missing (e.g. `$BUNDLEFARM_KEY_PASSPHRASE`). */
  passphraseFrom?: string;
}

/**
 * Largest key or certificate file read, in bytes: a 16384-bit RSA key in PEM is about 13 kB, so a file
 * past this is not what was meant (see readBoundedFile).
 */
export const MAX_PEM_FILE_SIZE = 1024 * 1024;

export function parsePrivateKey(pem: string | Buffer, source: string, passphrase?: string, options: PrivateKeyOptions = {}): PrivateKeyMaterial {
  const text = typeof pem === 'string' ? pem : pem.toString('utf8');
  if (/-----BEGIN OPENSSH PRIVATE KEY-----/.test(text)) {
    // ssh-keygen's own format: it matches the generic BEGIN line below, but OpenSSL cannot read it
    throw new InvalidKeyError(source, 'it is an OpenSSH private key, not PEM; convert a copy with: ssh-keygen -p -m PEM -f COPY');
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    if (/-----BEGIN CERTIFICATE-----/.test(text)) throw new InvalidKeyError(source, 'it is a certificate, not a private key');
    throw new InvalidKeyError(source, 'no PEM private key in it');
  }
  if (!/-----END [A-Z ]*PRIVATE KEY-----/.test(text)) throw new InvalidKeyError(source, 'the PEM is truncated (no END line)');
  const encrypted = /ENCRYPTED PRIVATE KEY|Proc-Type: 4,ENCRYPTED/.test(text);
  const noPassphrase = `it is encrypted and no passphrase was given${options.passphraseFrom ? ` (in ${options.passphraseFrom})` : ''}`;
  if (encrypted && passphrase === undefined) throw new InvalidKeyError(source, noPassphrase);
  let key: KeyObject;
  try {
    key = createPrivateKey(passphrase === undefined ? { key: text, format: 'pem' } : { key: text, format: 'pem', passphrase });
  } catch (err) {
    const code = (err as { code?: string }).code;
    const msg = String((err as Error).message);
    if (code === 'ERR_MISSING_PASSPHRASE' || /passphrase required/i.test(msg)) {
      throw new InvalidKeyError(source, noPassphrase, { cause: err });
    }
    if (encrypted && code === 'ERR_OSSL_EVP_UNSUPPORTED') {
      // single DES (old `openssl genrsa -des`), RC2 …: OpenSSL 3 leaves them to its legacy provider and
      // fails the same way with the right passphrase as with a wrong one — so do not call it wrong.
      // Only this code ("digital envelope routines::unsupported": the cipher cannot be fetched) says so:
      // about one wrong passphrase in 256 decrypts to valid padding and then fails in the DECODER, also
      // "unsupported" but ERR_OSSL_UNSUPPORTED, and that one is a wrong passphrase.
      throw new InvalidKeyError(
        source,
        'it is encrypted with a legacy cipher (DES, RC2 …) OpenSSL 3 no longer reads by default; re-encrypt it with AES: ' +
          'openssl pkcs8 -topk8 -v2 aes-256-cbc -provider legacy -provider default -in KEY -out NEW',
        { cause: err },
      );
    }
    if (encrypted) {
      throw new InvalidKeyError(source, 'the passphrase is wrong', { cause: err });
    }
    throw new InvalidKeyError(source, 'the PEM is corrupt or truncated', { cause: err });
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new InvalidKeyError(source, `it is ${keyTypeName(key.asymmetricKeyType)} key; bundles need an RSA key`);
  }
  assertConsistentRsaKey(key, source);
  return { source, key };
}

/**
 * Throws unless the key's numbers belong together: n = p·q, and dp, dq, qi and d follow from p, q and
 * e. OpenSSL loads a key whose private numbers were damaged (bit rot, a bad copy) without a word, and
 * signs with it all the same (it checks each signature and falls back to d), but the AES key of a
 * bundle then decrypts to garbage: `unbundle` would blame the bundle ("not the key it was made for")
 * for a key that is the right one, only corrupt.
 */
function assertConsistentRsaKey(key: KeyObject, source: string): void {
  let jwk: JsonWebKey;
  try {
    jwk = key.export({ format: 'jwk' });
  } catch {
    return; // e.g. a multi-prime key, which JWK export does not support: nothing to cross-check here
  }
  const num = (field: string | undefined): bigint | undefined =>
    field === undefined ? undefined : BigInt(`0x${Buffer.from(field, 'base64url').toString('hex') || '0'}`);
  const [n, e, d, p, q, dp, dq, qi] = [jwk.n, jwk.e, jwk.d, jwk.p, jwk.q, jwk.dp, jwk.dq, jwk.qi].map(num);
  if (n === undefined || e === undefined || d === undefined || p === undefined || q === undefined || dp === undefined || dq === undefined || qi === undefined) {
    return;
  }
  const consistent =
    p > 1n &&
    q > 1n &&
    p * q === n &&
    d % (p - 1n) === dp &&
    d % (q - 1n) === dq &&
    (e * dp) % (p - 1n) === 1n &&
    (e * dq) % (q - 1n) === 1n &&
    (qi * q) % p === 1n;
  if (!consistent) throw new InvalidKeyError(source, 'the key is corrupt: its private numbers do not belong together (damaged in storage or in a copy?)');
}

export function parseCertificate(pem: string | Buffer, source: string): CertificateMaterial {
  const text = typeof pem === 'string' ? pem : pem.toString('utf8');
  if (!/-----BEGIN CERTIFICATE-----/.test(text)) {
    if (/PRIVATE KEY-----/.test(text)) throw new InvalidCertificateError(source, 'it is a private key, not a certificate');
    throw new InvalidCertificateError(source, 'no PEM certificate in it');
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(text);
  } catch (err) {
    throw new InvalidCertificateError(source, 'the PEM is corrupt or truncated', { cause: err });
  }
  const publicKey = certificate.publicKey;
  if (publicKey.asymmetricKeyType !== 'rsa') {
    throw new InvalidCertificateError(source, `its key is ${publicKey.asymmetricKeyType ?? 'not RSA'}; bundles need RSA`);
  }
  return { source, certificate, publicKey };
}

export async function readPrivateKeyFile(path: string, passphrase?: string, options: PrivateKeyOptions = {}): Promise<PrivateKeyMaterial> {
  const { data, complete } = await readBoundedFile(path, MAX_PEM_FILE_SIZE);
  if (!complete) throw new InvalidKeyError(path, tooLarge('a PEM private key'));
  return parsePrivateKey(data, path, passphrase, options);
}

export async function readCertificateFile(path: string): Promise<CertificateMaterial> {
  const { data, complete } = await readBoundedFile(path, MAX_PEM_FILE_SIZE);
  if (!complete) throw new InvalidCertificateError(path, tooLarge('a PEM certificate'));
  return parseCertificate(data, path);
}

function tooLarge(what: string): string {
  return `it holds more than ${MAX_PEM_FILE_SIZE} bytes (or never ends, like a device); ${what} is a few kB — is this the right file?`;
}

/**
 * Smallest RSA modulus a user key may have to sign new bundles (NIST SP 800-131A). Keys are not refused
 * when they are loaded: a weaker key still reads (decrypts, verifies) the bundles it made before, and
 * EC2's own certificates (1024-bit, mandated by the format) are only ever encrypted to.
 */
export const MIN_SIGNING_KEY_BITS = 2048;

/** Throws WeakKeyError when `key` may not make new signatures (RSA modulus under MIN_SIGNING_KEY_BITS). */
export function assertSigningKeyStrength(key: PrivateKeyMaterial): void {
  const bits = key.key.asymmetricKeyDetails?.modulusLength;
  if (bits === undefined || bits < MIN_SIGNING_KEY_BITS) throw new WeakKeyError(key.source, bits, MIN_SIGNING_KEY_BITS);
}

/**
 * The check made wherever a signing identity is put together (a worker's identities at start-up, the
 * CLI's bundle and migrate-manifest): throws WeakKeyError when the private key is too weak to sign new
 * bundles, CertificateKeyMismatchError unless the certificate carries the private key's public half (so
 * the certificate cannot be weak either).
 */
export function assertCertificateMatchesKey(cert: CertificateMaterial, key: PrivateKeyMaterial): void {
  assertSigningKeyStrength(key);
  const a = cert.publicKey.export({ type: 'spki', format: 'der' });
  const b = createPublicKey(key.key).export({ type: 'spki', format: 'der' });
  if (!a.equals(b)) throw new CertificateKeyMismatchError(cert.source, key.source);
}

/** "an EC", "an Ed25519", "a DSA" …: a key type as a reader says it, with its article. */
export function keyTypeName(type: string | undefined): string {
  const names: Record<string, string> = {
    ec: 'an EC',
    ed25519: 'an Ed25519',
    ed448: 'an Ed448',
    x25519: 'an X25519',
    x448: 'an X448',
    'rsa-pss': 'an RSA-PSS',
    dsa: 'a DSA',
    dh: 'a DH',
  };
  return type === undefined ? 'a non-RSA' : (names[type] ?? `a ${type.toUpperCase()}`);
}
