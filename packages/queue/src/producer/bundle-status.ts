/**
 * What producers (the API, the CLI through it) report about a bundle job: its state, its latest
 * progress, the result, why it failed, and one entry per target region merging the spec, the progress
 * and the result. Built from what BullMQ stores; holds no secrets because job data holds none.
 */
import type { Job, JobState } from 'bullmq';
import type { SerializedError } from '@bundlefarm/errors';
import type { JobSpec } from '../job-spec.js';
import { parseFailedReason } from '../failure-reason.js';
import { regionFailures, type RegionFailure } from '../region-failures.js';
import type { BundleJobData, BundleJobProgress, BundleJobResult, RegionProgress, RegionResult, ReplacedBundle } from '../job-types.js';

/**
 * BullMQ's states, and `cancelled`: a job a user cancelled while it ran (BullMQ holds it as failed, with
 * BF_CANCELLED) is reported as cancelled, not as a failure. A job cancelled before it started is removed.
 */
export type BundleState = JobState | 'cancelled' | 'unknown';

export const FINISHED_STATES: readonly BundleState[] = ['completed', 'failed', 'cancelled'];

/** Code of the failure of a job a user cancelled. */
export const CANCELLED_CODE = 'BF_CANCELLED';

/** The state to report for a job BullMQ holds in `state` with `failedReason`: failed by a cancel is `cancelled`. */
export function reportedState(state: BundleState, failedReason: string | null | undefined): BundleState {
  return state === 'failed' && parseFailure(failedReason)?.code === CANCELLED_CODE ? 'cancelled' : state;
}

export interface RegionStatus {
  region: string;
  bucket: string;
  /** Key prefix inside the bucket ('' or ending with '/'). */
  prefix: string;
  /** pending → uploading → published; failed when this region failed, skipped when not attempted. */
  stage: RegionProgress['stage'];
  partsDone: number;
  /** Key of NAME.manifest.xml once published. */
  manifestKey?: string;
  partKeys?: string[];
  /** Why this region failed (the others may have succeeded). */
  error?: SerializedError;
  /** The bundle someone else had published here, replaced by this job (`replace: true`): what of it is gone. */
  replaced?: ReplacedBundle;
  /** The AMI the bundle is registered as (targets with `register`), once registered. */
  imageId?: string;
  imageName?: string;
}

export interface BundleFailure {
  /** Stable error code (BF_…), or BF_JOB_FAILED when the worker gave none. */
  code: string;
  message: string;
}

export interface BundleAttempts {
  /** Attempts that ended (failed or completed). */
  made: number;
  /** Attempts a worker started. */
  started: number;
  /** Attempts allowed for transient failures. */
  max: number;
}

export interface BundleStatus {
  id: string;
  /** Bundle name (the job's name in BullMQ and Bull Board). */
  name: string;
  state: BundleState;
  /** True once completed or failed for good. */
  finished: boolean;
  /** Who enqueued it: api, github, gitlab, cli … */
  source: string;
  delivery?: string;
  /** The principal that enqueued it (absent for jobs made before principals, or added outside the API). */
  principal?: string;
  spec: JobSpec;
  /** Latest progress report (null before a worker reported any). */
  progress: BundleJobProgress | null;
  /** Result of a completed job. */
  result: BundleJobResult | null;
  /** Why the job (or its latest attempt) failed. */
  error: BundleFailure | null;
  attempts: BundleAttempts;
  regions: RegionStatus[];
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** `BF_CODE: message` (how workers word failures) → code and message; anything else → BF_JOB_FAILED. */
export function parseFailure(reason: string | null | undefined): BundleFailure | null {
  if (!reason) return null;
  return parseFailedReason(reason) ?? { code: 'BF_JOB_FAILED', message: reason };
}

/** A region's failure as the status reports it. */
function serialized(f: RegionFailure): SerializedError {
  return { code: f.code, message: f.message, transient: f.retryable, details: {} };
}

function isProgress(p: unknown): p is BundleJobProgress {
  return typeof p === 'object' && p !== null && typeof (p as { percent?: unknown }).percent === 'number';
}

function iso(ms: number | null | undefined): string | null {
  return typeof ms === 'number' && ms > 0 ? new Date(ms).toISOString() : null;
}

function regionStatus(target: JobSpec['regions'][number], progress: BundleJobProgress | null, earlier: RegionResult | undefined, final: RegionResult | undefined): RegionStatus {
  const prefix = target.prefix === '' || target.prefix.endsWith('/') ? target.prefix : `${target.prefix}/`;
  const status: RegionStatus = { region: target.region, bucket: target.bucket, prefix, stage: 'pending', partsDone: 0 };
  const p = progress?.regions?.[target.region];
  if (p) {
    status.stage = p.stage;
    status.partsDone = p.partsDone;
  }
  for (const r of [earlier, final]) {
    if (!r) continue;
    if (r.manifestKey !== undefined) status.manifestKey = r.manifestKey;
    if (typeof r.imageId === 'string') status.imageId = r.imageId;
    if (typeof r.imageName === 'string') status.imageName = r.imageName;
    if (r.partKeys !== undefined) {
      status.partKeys = r.partKeys;
      status.partsDone = Math.max(status.partsDone, r.partKeys.length);
    }
    if (r.error) {
      status.error = r.error;
      status.stage = 'failed';
    } else if (r.manifestKey !== undefined) {
      delete status.error;
      status.stage = 'published';
    }
  }
  return status;
}

/** The status of a job BullMQ holds in `state` (its data checked first: see stored-job-data.ts). */
export function toBundleStatus(job: Job<BundleJobData, BundleJobResult>, bullState: BundleState): BundleStatus {
  const data = job.data;
  const state = reportedState(bullState, job.failedReason);
  const progress = isProgress(job.progress) ? job.progress : null;
  const result = state === 'completed' && job.returnvalue ? job.returnvalue : null;
  const finished = FINISHED_STATES.includes(state);
  const error = state === 'completed' ? null : parseFailure(job.failedReason);
  const regions = data.spec.regions.map((t) => {
    const status = regionStatus(t, progress, data.completedRegions?.[t.region], result?.regions?.[t.region]);
    const replaced = result?.regions?.[t.region]?.replaced ?? data.replaced?.[t.region];
    if (replaced) status.replaced = replaced;
    return status;
  });
  // per-region failures: recorded in the job's data, or in an old job's failure text — for the regions a
  // failure can be (region-failures.ts: not one published, but for its registration)
  const standing = regions.map((status, i) => ({ region: status.region, register: data.spec.regions[i]!.register !== undefined, manifestKey: status.manifestKey, imageId: status.imageId }));
  const failures = state === 'failed' || state === 'cancelled' ? regionFailures(data, error, standing) : {};
  for (const status of regions) {
    if (!Object.hasOwn(failures, status.region)) continue;
    status.error = serialized(failures[status.region]!);
    // published, but its registration failed: the bundle is there, the AMI is not
    if (status.manifestKey === undefined) status.stage = 'failed';
  }
  return {
    id: job.id ?? '',
    name: job.name,
    state,
    finished,
    source: data.source,
    ...(data.delivery !== undefined ? { delivery: data.delivery } : {}),
    ...(typeof data.principal === 'string' ? { principal: data.principal } : {}),
    spec: data.spec,
    progress,
    result,
    error,
    attempts: { made: job.attemptsMade ?? 0, started: job.attemptsStarted ?? 0, max: job.opts.attempts ?? 1 },
    regions,
    createdAt: iso(job.timestamp) ?? new Date(0).toISOString(),
    startedAt: iso(job.processedOn),
    finishedAt: finished ? iso(job.finishedOn) : null,
  };
}
