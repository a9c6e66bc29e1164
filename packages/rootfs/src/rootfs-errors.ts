/*
 * Errors of building a filesystem image from a root tree or a tarball. Messages name the tool, the
 * entry (path inside the image) or the limit that was hit; `transient` is true only where trying again
 * on a machine with more scratch space or after a passing fault may succeed.
 */
import { BundlefarmError, type BundlefarmErrorOptions } from '@bundlefarm/errors';

/** A program the builder needs (mke2fs, debugfs, sfdisk, zstd …) is not installed. */
export class ToolMissingError extends BundlefarmError {
  static readonly code = 'BF_TOOL_MISSING';
  constructor(tool: string, pkg: string, options: BundlefarmErrorOptions = {}) {
    super(ToolMissingError.code, `${tool} is not installed (Debian/Ubuntu: apt-get install ${pkg})`, false, {
      ...options,
      details: { ...options.details, tool, package: pkg },
    });
  }
}

/** A filesystem tool failed or wrote something the builder did not expect. */
export class FilesystemBuildError extends BundlefarmError {
  static readonly code = 'BF_FS_BUILD_FAILED';
  constructor(tool: string, message: string, options: BundlefarmErrorOptions = {}) {
    super(FilesystemBuildError.code, `${tool}: ${message}`, false, { ...options, details: { ...options.details, tool } });
  }
}

/** The content does not fit: in the size asked for with -s, or in the 10 GiB an image may have. */
export class FilesystemFullError extends BundlefarmError {
  static readonly code = 'BF_FS_FULL';
  constructor(what: string, options: BundlefarmErrorOptions = {}) {
    super(FilesystemFullError.code, what, false, options);
  }
}

/** An entry the image cannot hold as it is (a name with a newline, an xattr too large for a block …). */
export class EntryUnsupportedError extends BundlefarmError {
  static readonly code = 'BF_ENTRY_UNSUPPORTED';
  constructor(path: string, reason: string, options: BundlefarmErrorOptions = {}) {
    super(EntryUnsupportedError.code, `${displayPath(path)}: ${reason}`, false, {
      ...options,
      details: { ...options.details, path: displayPath(path), reason },
    });
  }
}

/** A rootfs tarball that is not a well-formed tar archive, or one that tries to escape its root. */
export class TarballInvalidError extends BundlefarmError {
  static readonly code = 'BF_TARBALL_INVALID';
  constructor(reason: string, options: BundlefarmErrorOptions = {}) {
    super(TarballInvalidError.code, `rootfs tarball: ${reason}`, false, { ...options, details: { ...options.details, reason } });
  }
}

/** A tree entry that cannot be read by whoever runs the build. */
export class TreeUnreadableError extends BundlefarmError {
  static readonly code = 'BF_TREE_UNREADABLE';
  constructor(path: string, cause: unknown, options: BundlefarmErrorOptions = {}) {
    const errno = (cause as { code?: unknown } | null)?.code;
    const hint = errno === 'EACCES' || errno === 'EPERM' ? ' (bundling a tree you do not own needs root, as ec2-bundle-vol does)' : '';
    super(TreeUnreadableError.code, `cannot read ${path}: ${typeof errno === 'string' ? errno : String(cause)}${hint}`, false, {
      ...options,
      cause,
      details: { ...options.details, path, errno: typeof errno === 'string' ? errno : undefined },
    });
  }
}

/** Not enough free space in the scratch directory for the image being built. */
export class ScratchSpaceError extends BundlefarmError {
  static readonly code = 'BF_SCRATCH_FULL';
  constructor(dir: string, needed: number, available: number, options: BundlefarmErrorOptions = {}) {
    super(
      ScratchSpaceError.code,
      `scratch directory ${dir} has ${available} bytes free; building this image needs about ${needed}`,
      true,
      { ...options, details: { ...options.details, dir, needed, available } },
    );
  }
}

/**
 * The build would need more scratch space than it is allowed (`scratchLimit`: a worker's
 * `scratch.maxBytes`): an explicit size above it, a tree or tarball whose content exceeds it. Permanent:
 * the same job on the same limit fails the same way. Refused before the image is written where the
 * size is known up front (explicit size, tree scan), else as soon as the staged content passes it.
 */
export class ScratchLimitError extends BundlefarmError {
  static readonly code = 'BF_SCRATCH_LIMIT';
  constructor(what: string, limit: number, options: BundlefarmErrorOptions = {}) {
    super(ScratchLimitError.code, `${what}: more than the ${limit} bytes of scratch space a build may use here`, false, {
      ...options,
      details: { ...options.details, limit },
    });
  }
}

/** Paths inside the image are byte strings (latin1 in JS strings); this turns one into readable text. */
export function displayPath(path: string): string {
  return '/' + Buffer.from(path, 'latin1').toString('utf8');
}
