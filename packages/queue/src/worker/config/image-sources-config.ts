/**
 * Where job images come from, in the worker configuration: the local image root (`imageRoot` in the
 * file) and the API's staging area of uploaded images (BUNDLEFARM_STAGING, else `staging` in the file).
 */
import { realpath, stat } from 'node:fs/promises';
import { z } from 'zod';
import { parseStagingArea, type StagingArea } from '../../staging/staging-area.js';
import type { ConfigProblem } from '../worker-errors.js';
import { describeError } from './config-primitives.js';

export const IMAGE_SOURCES_ENV = {
  staging: 'BUNDLEFARM_STAGING',
} as const;

export interface ImageSourcesConfig {
  /**
   * `imageRoot` (default: none), as a real path: the directory local images are read from; a job's
   * relative path is resolved inside it (symlinks followed, never outside). Without it only `s3://`
   * images are accepted.
   */
  imageRoot: string | undefined;
  /**
   * BUNDLEFARM_STAGING, else `staging` (default: none, nothing is ever deleted): the API's staging area
   * `s3://BUCKET/PREFIX` of uploaded images (its bucket is read with the `s3.imageRegion` client). When a
   * job whose image was uploaded there ends (completed, failed for good, cancelled), the worker deletes
   * the image — only an object of the job's own principal carrying the API's upload mark
   * (staged-image-cleanup.ts).
   */
  staging?: StagingArea | undefined;
}

export const stagingSchema = z.string().min(1);

/** The image root as a real path, when it is a directory. */
export async function checkImageRoot(path: string, problems: ConfigProblem[]): Promise<string | undefined> {
  try {
    const real = await realpath(path);
    if (!(await stat(real)).isDirectory()) {
      problems.push({ path: 'imageRoot', message: `${path} is not a directory` });
      return undefined;
    }
    return real;
  } catch (err) {
    problems.push({ path: 'imageRoot', message: `${path} cannot be used: ${(err as { code?: string }).code ?? String(err)}` });
    return undefined;
  }
}

/** The staging area: the variable's when set, else the file's; a problem names the one it came from. */
export function resolveStaging(fromEnv: string | undefined, fromFile: string | undefined, problems: ConfigProblem[]): StagingArea | undefined {
  const url = fromEnv ?? fromFile;
  if (url === undefined) return undefined;
  const where = fromEnv !== undefined ? IMAGE_SOURCES_ENV.staging : 'staging';
  try {
    return parseStagingArea(url, where);
  } catch (err) {
    problems.push({ path: where, message: describeError(err) });
    return undefined;
  }
}
