import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  CertificateKeyMismatchError,
  FileUnreadableError,
  InvalidCertificateError,
  InvalidKeyError,
} from '@bundlefarm/errors';

/**
 * Loading of the user's RSA private key and X.509 certificates, with errors that say what is wrong
 * (truncated PEM, encrypted key without passphrase, not RSA, certificate of another key). Every error
 * names the source (a file path or a configured name), never the key material.
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

export function parsePrivateKey(pem: string | Buffer, source: string, passphrase?: string): PrivateKeyMaterial {
  const text = typeof pem === 'string' ? pem : pem.toString('utf8');
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    if (/-----BEGIN CERTIFICATE-----/.test(text)) throw new InvalidKeyError(source, 'it is a certificate, not a private key');
    throw new InvalidKeyError(source, 'no PEM private key in it');
  }
  if (!/-----END [A-Z ]*PRIVATE KEY-----/.test(text)) throw new InvalidKeyError(source, 'the PEM is truncated (no END line)');
  const encrypted = /ENCRYPTED PRIVATE KEY|Proc-Type: 4,ENCRYPTED/.test(text);
  if (encrypted && passphrase === undefined) throw new InvalidKeyError(source, 'it is encrypted and no passphrase was given');
  let key: KeyObject;
  try {
    key = createPrivateKey(passphrase === undefined ? { key: text, format: 'pem' } : { key: text, format: 'pem', passphrase });
  } catch (err) {
    const code = (err as { code?: string }).code;
    const msg = String((err as Error).message);
    if (code === 'ERR_MISSING_PASSPHRASE' || /passphrase required/i.test(msg)) {
      throw new InvalidKeyError(source, 'it is encrypted and no passphrase was given', { cause: err });
    }
    if (encrypted) {
      throw new InvalidKeyError(source, 'the passphrase is wrong', { cause: err });
    }
    throw new InvalidKeyError(source, 'the PEM is corrupt or truncated', { cause: err });
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new InvalidKeyError(source, `it is a ${key.asymmetricKeyType ?? 'non-RSA'} key; bundles need an RSA key`);
  }
  return { source, key };
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

export async function readPrivateKeyFile(path: string, passphrase?: string): Promise<PrivateKeyMaterial> {
  return parsePrivateKey(await readSmallFile(path), path, passphrase);
}

export async function readCertificateFile(path: string): Promise<CertificateMaterial> {
  return parseCertificate(await readSmallFile(path), path);
}

async function readSmallFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new FileUnreadableError(path, err);
  }
}

/** Throws CertificateKeyMismatchError unless the certificate carries the private key's public half. */
export function assertCertificateMatchesKey(cert: CertificateMaterial, key: PrivateKeyMaterial): void {
  const a = cert.publicKey.export({ type: 'spki', format: 'der' });
  const b = createPublicKey(key.key).export({ type: 'spki', format: 'der' });
  if (!a.equals(b)) throw new CertificateKeyMismatchError(cert.source, key.source);
}
