/**
 * The `scratch` section of the worker configuration file: where jobs with `filesystem` build their ext4
 * image, and the most bytes one build may use there (`{ "dir": "/var/tmp/bundlefarm", "maxBytes": … }`).
 *
 * `dir` gets one `bundlefarm-rootfs-*` subdirectory per build, removed when the build ends however it
 * ends; those a killed worker left behind on this host are removed when the worker starts and at the
 * start of every job. `maxBytes` is what one build may use there: the image (its allocated bytes, about
 * the content) plus tarball files staged on their way into it (at most an eighth of `maxBytes`, 256 MiB
 * at most). A job that would need more — `filesystem.sizeMiB` above it, an S3 or local tarball larger
 * than it, a tree whose files need more — is refused before its filesystem is built (BF_SCRATCH_LIMIT,
 * not retried); a tarball whose content turns out larger is stopped as soon as it passes the limit.
 * Each job slot (`concurrency`) may use `maxBytes` at once: size the directory's filesystem for
 * `concurrency × maxBytes`.
 */
import { mkdir, realpath, stat } from 'node:fs/promises';
import { z } from 'zod';
import type { ConfigProblem } from '../worker-errors.js';
import { pathSchema, whole } from './config-primitives.js';

/** Smallest `scratch.maxBytes`: a 16 MiB image and its staging, with room to spare. */
export const MIN_SCRATCH_BYTES = 64 * 1024 * 1024;

export interface ScratchConfig {
  /**
   * `scratch.dir` (default: the OS temp directory, e.g. /tmp; created if missing, owner only), as a real
   * path: where filesystem images are built. `scratch.maxBytes` (default 12 GiB: the 10 GiB an image may
   * have, staging and slack; at least MIN_SCRATCH_BYTES, 64 MiB): the most one build may use there.
   */
  scratch: { dir: string; maxBytes: number };
}

export const SCRATCH_DEFAULTS = {
  scratchMaxBytes: 12 * 1024 ** 3,
} as const;

export const scratchSchema = z
  .object({ dir: pathSchema.optional(), maxBytes: whole(MIN_SCRATCH_BYTES, Number.MAX_SAFE_INTEGER).optional() })
  .strict();

/** The scratch directory, created if missing (owner only), as a real path. */
export async function checkScratchDir(path: string, problems: ConfigProblem[]): Promise<string | undefined> {
  try {
    await mkdir(path, { recursive: true, mode: 0o700 });
    const real = await realpath(path);
    if (!(await stat(real)).isDirectory()) {
      problems.push({ path: 'scratch.dir', message: `${path} is not a directory` });
      return undefined;
    }
    return real;
  } catch (err) {
    problems.push({ path: 'scratch.dir', message: `${path} cannot be used: ${(err as { code?: string }).code ?? String(err)}` });
    return undefined;
  }
}
