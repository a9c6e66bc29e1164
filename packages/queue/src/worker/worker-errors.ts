/**
 * Errors of the bundle worker itself. Like every BundlefarmError they carry a stable code and say
 * whether trying again may help; messages name files, environment variables, regions and buckets,
 * never a key, a passphrase or a credential.
 */
import { BundlefarmError, type BundlefarmErrorOptions } from '@bundlefarm/errors';

/** One problem in the worker's configuration: where (env var or JSON path) and what. */
export interface ConfigProblem {
  /** `BUNDLEFARM_REDIS_URL`, `identities.release.key`, `s3.regions.eu-west-1.endpoint` … */
  path: string;
  message: string;
}

/** The worker cannot start: every problem found in the environment and the configuration file. */
export class WorkerConfigError extends BundlefarmError {
  static readonly code = 'BF_WORKER_CONFIG';
  readonly problems: readonly ConfigProblem[];
  /** `file`: the JSON configuration file the problems were found with, if it was known. */
  constructor(problems: readonly ConfigProblem[], file?: string, options: BundlefarmErrorOptions = {}) {
    const list = problems.map((p) => `${p.path}: ${p.message}`).join('; ');
    const where = file !== undefined ? ` (${file})` : '';
    super(WorkerConfigError.code, `the worker configuration${where} has ${problems.length} problem${problems.length === 1 ? '' : 's'}: ${list}`, false, {
      ...options,
      details: { ...options.details, problems: problems.length, file },
    });
    this.problems = problems;
  }
}

/** A job names a local image but this worker has no `imageRoot` configured. */
export class ImageRootNotConfiguredError extends BundlefarmError {
  static readonly code = 'BF_IMAGE_ROOT_NOT_CONFIGURED';
  constructor(image: string, options: BundlefarmErrorOptions = {}) {
    super(
      ImageRootNotConfiguredError.code,
      `image ${JSON.stringify(image)} is a local path, but this worker has no imageRoot configured (only s3:// images can be bundled here)`,
      false,
      { ...options, details: { ...options.details, image } },
    );
  }
}

/**
 * Some regions of a job could not be published (the others were, and are recorded in the job's
 * `completedRegions`). Transient when at least one failure is: a retry then redoes only these regions.
 */
export class RegionsFailedError extends BundlefarmError {
  static readonly code = 'BF_REGIONS_FAILED';
  readonly regions: ReadonlyMap<string, BundlefarmError>;
  constructor(failed: ReadonlyMap<string, BundlefarmError>, published: readonly string[], options: BundlefarmErrorOptions = {}) {
    const list = [...failed].map(([region, err]) => `${region}: ${err.code}: ${err.message}`).join('; ');
    const done = published.length ? ` (published: ${published.join(', ')})` : '';
    super(
      RegionsFailedError.code,
      `${failed.size} region${failed.size === 1 ? '' : 's'} failed: ${list}${done}`,
      [...failed.values()].some((e) => e.transient),
      {
        ...options,
        details: { ...options.details, failed: [...failed.keys()].join(','), codes: [...failed.values()].map((e) => e.code).join(','), published: published.join(',') },
      },
    );
    this.regions = failed;
  }
}

/** An unexpected error (a bug, or something no layer below classified): retried, as it may pass. */
export class WorkerInternalError extends BundlefarmError {
  // not the API's BF_INTERNAL (a 500, never retried): one code, one meaning (error-registry.ts)
  static readonly code = 'BF_WORKER_INTERNAL';
  constructor(message: string, options: BundlefarmErrorOptions = {}) {
    super(WorkerInternalError.code, `internal error: ${message}`, true, options);
  }
}

/**
 * This worker no longer holds the job's lock (Redis was unreachable for longer than the lock lasts, or
 * the process stalled): another worker may be running the job, so this one stops and publishes nothing.
 */
export class JobLockLostError extends BundlefarmError {
  static readonly code = 'BF_JOB_LOCK_LOST';
  constructor(jobId: string, options: BundlefarmErrorOptions = {}) {
    super(JobLockLostError.code, `the worker lost the lock of job ${jobId}; another worker may run it now, so this attempt stopped without publishing`, true, {
      ...options,
      details: { ...options.details, jobId },
    });
  }
}

/**
 * Another job is writing a bundle of the same name to the same bucket and prefix (it holds the claim on
 * that target; see target-claims.ts). Transient: this job waits (delayed, not a failed attempt) and
 * looks again once the other may have finished.
 */
export class TargetBusyError extends BundlefarmError {
  static readonly code = 'BF_TARGET_BUSY';
  constructor(target: string, holder: string, options: BundlefarmErrorOptions = {}) {
    super(TargetBusyError.code, `${target} is being written by another job (${holder}); this job waits until it has finished`, true, {
      ...options,
      details: { ...options.details, target, holder },
    });
  }
}
