import { BundlefarmError, type BundlefarmErrorOptions } from './bundlefarm-error.js';

/** Errors in what the user asked for: permanent, retrying cannot help. */

export const MAX_IMAGE_BYTES = 10 * 1024 * 1024 * 1024;

export class ImageTooLargeError extends BundlefarmError {
  static readonly code = 'BF_IMAGE_TOO_LARGE';
  constructor(image: string, size: number, options: BundlefarmErrorOptions = {}) {
    super(
      ImageTooLargeError.code,
      `image ${image} is ${size} bytes; EC2 instance-store images must be at most 10 GiB (${MAX_IMAGE_BYTES} bytes)`,
      false,
      { ...options, details: { ...options.details, image, size, limit: MAX_IMAGE_BYTES } },
    );
  }
}

export class ImageEmptyError extends BundlefarmError {
  static readonly code = 'BF_IMAGE_EMPTY';
  constructor(image: string, options: BundlefarmErrorOptions = {}) {
    super(ImageEmptyError.code, `image ${image} is empty (0 bytes); there is nothing to bundle`, false, {
      ...options,
      details: { ...options.details, image },
    });
  }
}

export class InvalidAccountError extends BundlefarmError {
  static readonly code = 'BF_BAD_ACCOUNT';
  constructor(value: string, options: BundlefarmErrorOptions = {}) {
    super(
      InvalidAccountError.code,
      `account id ${JSON.stringify(value)} is not a 12-digit AWS account number (hyphens allowed, e.g. 1234-5678-9012)`,
      false,
      { ...options, details: { ...options.details, value } },
    );
  }
}

export class InvalidArchitectureError extends BundlefarmError {
  static readonly code = 'BF_BAD_ARCH';
  constructor(value: string, options: BundlefarmErrorOptions = {}) {
    super(InvalidArchitectureError.code, `architecture ${JSON.stringify(value)} is not one of i386, x86_64`, false, {
      ...options,
      details: { ...options.details, value },
    });
  }
}

export class InvalidNameError extends BundlefarmError {
  static readonly code = 'BF_BAD_NAME';
  constructor(value: string, reason: string, options: BundlefarmErrorOptions = {}) {
    super(InvalidNameError.code, `bundle name ${JSON.stringify(value)} is not usable: ${reason}`, false, {
      ...options,
      details: { ...options.details, value, reason },
    });
  }
}

export class UnknownRegionError extends BundlefarmError {
  static readonly code = 'BF_UNKNOWN_REGION';
  constructor(region: string, reason = 'it is not a known AWS region', options: BundlefarmErrorOptions = {}) {
    super(UnknownRegionError.code, `region ${JSON.stringify(region)} cannot be used: ${reason}`, false, {
      ...options,
      details: { ...options.details, region },
    });
  }
}

/** An option value that does not parse or is out of range (block device mapping, level, threads ...). */
export class InvalidOptionError extends BundlefarmError {
  static readonly code = 'BF_BAD_OPTION';
  constructor(option: string, reason: string, options: BundlefarmErrorOptions = {}) {
    super(InvalidOptionError.code, `${option}: ${reason}`, false, { ...options, details: { ...options.details, option, reason } });
  }
}

/** A path that would leave the directory it must stay in (`../`, absolute part names, symlinks out). */
export class UnsafePathError extends BundlefarmError {
  static readonly code = 'BF_UNSAFE_PATH';
  constructor(path: string, root: string, options: BundlefarmErrorOptions = {}) {
    super(UnsafePathError.code, `path ${JSON.stringify(path)} is outside ${root}; refusing to use it`, false, {
      ...options,
      details: { ...options.details, path, root },
    });
  }
}
