import { BundlefarmError, type BundlefarmErrorOptions } from './bundlefarm-error.js';

/** Errors about keys and certificates. All permanent. Messages name files, never key material. */

export class InvalidKeyError extends BundlefarmError {
  static readonly code = 'BF_BAD_KEY';
  constructor(source: string, reason: string, options: BundlefarmErrorOptions = {}) {
    super(InvalidKeyError.code, `private key ${source} cannot be used: ${reason}`, false, {
      ...options,
      details: { ...options.details, source, reason },
    });
  }
}

export class InvalidCertificateError extends BundlefarmError {
  static readonly code = 'BF_BAD_CERT';
  constructor(source: string, reason: string, options: BundlefarmErrorOptions = {}) {
    super(InvalidCertificateError.code, `certificate ${source} cannot be used: ${reason}`, false, {
      ...options,
      details: { ...options.details, source, reason },
    });
  }
}

/**
 * A private key too weak to make new signatures with (RSA under the minimum size). Only signing is
 * refused: a weak key still decrypts and verifies the bundles it made before.
 */
export class WeakKeyError extends BundlefarmError {
  static readonly code = 'BF_WEAK_KEY';
  constructor(source: string, bits: number | undefined, minBits: number, options: BundlefarmErrorOptions = {}) {
    super(
      WeakKeyError.code,
      `private key ${source} is too weak to sign new bundles: ${bits === undefined ? 'its size is unknown' : `${bits}-bit RSA`}, at least ${minBits} bits are needed ` +
        `(make a new one: openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:${minBits}); bundles it made before can still be read`,
      false,
      { ...options, details: { ...options.details, source, ...(bits !== undefined ? { bits } : {}), minBits } },
    );
  }
}

export class CertificateKeyMismatchError extends BundlefarmError {
  static readonly code = 'BF_CERT_KEY_MISMATCH';
  constructor(cert: string, key: string, options: BundlefarmErrorOptions = {}) {
    super(
      CertificateKeyMismatchError.code,
      `certificate ${cert} does not belong to private key ${key}: their public keys differ`,
      false,
      { ...options, details: { ...options.details, cert, key } },
    );
  }
}

/** RSA PKCS#1 v1.5 decryption of the wrapped AES key/IV failed: the bundle was made for another key. */
export class WrongKeyError extends BundlefarmError {
  static readonly code = 'BF_WRONG_KEY';
  constructor(key: string, what: string, options: BundlefarmErrorOptions = {}) {
    super(
      WrongKeyError.code,
      `private key ${key} cannot decrypt the ${what} of this bundle (PKCS#1 v1.5 padding check failed): it is not the key the bundle was made for`,
      false,
      { ...options, details: { ...options.details, key, what } },
    );
  }
}

/** A key or certificate name in a job that the worker has no configuration for. */
export class KeyNotConfiguredError extends BundlefarmError {
  static readonly code = 'BF_KEY_NOT_CONFIGURED';
  constructor(name: string, options: BundlefarmErrorOptions = {}) {
    super(
      KeyNotConfiguredError.code,
      `signing identity ${JSON.stringify(name)} is not configured on this worker (identities in the BUNDLEFARM_CONFIG file)`,
      false,
      { ...options, details: { ...options.details, name } },
    );
  }
}
