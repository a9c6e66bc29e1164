import type { SerializedError } from '@bundlefarm/errors';
import type { JobSpec } from './job-spec.js';

/**
 * What is stored in Redis for a bundle job: the validated spec and bookkeeping, never key material,
 * credentials, AES keys or IVs (a test scans Redis for them).
 */
export interface BundleJobData {
  spec: JobSpec;
  /** Who enqueued it: 'api', 'github', 'gitlab', 'cli'. */
  source: string;
  /** Delivery id of the webhook that caused it, if any. */
  delivery?: string;
  /**
   * Name of the principal that enqueued it (an API token's or a webhook rule's; never a token). Workers
   * with a principals file run the job only inside that principal's scope.
   */
  principal?: string;
  /** HMAC of id, spec, principal, source and delivery (scopes/job-mac.ts), when the API has a job MAC key. */
  mac?: string;
  /** Regions finished by an earlier attempt (with their results): a retry redoes only the others. */
  completedRegions?: Record<string, RegionResult>;
}

export type JobStage = 'queued' | 'preflight' | 'bundling' | 'uploading' | 'publishing' | 'done';

export interface RegionProgress {
  stage: 'pending' | 'uploading' | 'published' | 'failed' | 'skipped';
  partsDone: number;
}

/** `job.updateProgress` payload, throttled to about once a second (or every percent). */
export interface BundleJobProgress {
  stage: JobStage;
  /** 0–100. */
  percent: number;
  bytesIn: number;
  totalIn: number;
  bytesOut: number;
  partsDone: number;
  /** Known once bundling has produced the last part. */
  partsTotal?: number;
  regions: Record<string, RegionProgress>;
}

export interface RegionResult {
  region: string;
  bucket: string;
  /** Key of NAME.manifest.xml in the bucket (absent when the region failed). */
  manifestKey?: string;
  /** Keys of the parts, in index order. */
  partKeys?: string[];
  /** Set when this region failed (the others may have succeeded). */
  error?: SerializedError;
}

/** `job.returnvalue` of a completed job. */
export interface BundleJobResult {
  name: string;
  /** SHA-1 of the tar stream, lowercase hex. */
  digest: string;
  size: number;
  bundledSize: number;
  parts: number;
  seconds: number;
  regions: Record<string, RegionResult>;
  /** Part uploads that needed more than one attempt. */
  uploadRetries: number;
}
