import { BundlefarmError, type BundlefarmErrorOptions } from './bundlefarm-error.js';

/** Errors of the world around a bundle: files, disks, cancellation. */

const PERMANENT_ERRNOS = new Set(['ENOENT', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG']);

function errnoOf(cause: unknown): string | undefined {
  const code = (cause as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A file that cannot be read (missing, no permission, a directory, an I/O error mid-stream). */
export class FileUnreadableError extends BundlefarmError {
  static readonly code = 'BF_FILE_UNREADABLE';
  constructor(path: string, cause?: unknown, options: BundlefarmErrorOptions = {}) {
    const errno = errnoOf(cause);
    const reason = errno ? `${errno}${describe(errno)}` : cause instanceof Error ? cause.message : 'unreadable';
    super(FileUnreadableError.code, `cannot read ${path}: ${reason}`, errno === 'EIO' || errno === 'EAGAIN', {
      ...options,
      cause,
      details: { ...options.details, path, errno },
    });
  }
}

/** A file that cannot be written: transient when the disk is full or flaky, permanent otherwise. */
export class FileUnwritableError extends BundlefarmError {
  static readonly code = 'BF_FILE_UNWRITABLE';
  constructor(path: string, cause?: unknown, options: BundlefarmErrorOptions = {}) {
    const errno = errnoOf(cause);
    const reason = errno ? `${errno}${describe(errno)}` : cause instanceof Error ? cause.message : 'unwritable';
    super(FileUnwritableError.code, `cannot write ${path}: ${reason}`, errno === undefined || !PERMANENT_ERRNOS.has(errno), {
      ...options,
      cause,
      details: { ...options.details, path, errno },
    });
  }
}

/** A destination that already exists and would be overwritten. */
export class DestinationExistsError extends BundlefarmError {
  static readonly code = 'BF_DESTINATION_EXISTS';
  /** `hint`: how to replace it anyway, in the caller's words (e.g. "give --overwrite to replace it"). */
  constructor(path: string, hint?: string, options: BundlefarmErrorOptions = {}) {
    super(DestinationExistsError.code, `${path} already exists; refusing to overwrite it${hint !== undefined ? ` (${hint})` : ''}`, false, {
      ...options,
      details: { ...options.details, path },
    });
  }
}

export class CancelledError extends BundlefarmError {
  static readonly code = 'BF_CANCELLED';
  constructor(what = 'operation', options: BundlefarmErrorOptions = {}) {
    super(CancelledError.code, `${what} was cancelled`, false, { ...options, details: { ...options.details, what } });
  }
}

function describe(errno: string): string {
  switch (errno) {
    case 'ENOENT':
      return ' (no such file or directory)';
    case 'EACCES':
    case 'EPERM':
      return ' (permission denied)';
    case 'EISDIR':
      return ' (is a directory)';
    case 'ENOSPC':
      return ' (no space left on device)';
    case 'EIO':
      return ' (input/output error)';
    default:
      return '';
  }
}
