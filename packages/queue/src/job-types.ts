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
  /** HMAC of id, spec, principal, source, delivery, origin and issuedAt (scopes/job-mac.ts), when the API has a job MAC key. */
  mac?: string;
  /**
   * When the API issued the job (ms since the epoch; renewed by an API retry): covered by the MAC, so a
   * worker with the key can refuse a copy of an old job put back into Redis (BUNDLEFARM_JOB_MAX_AGE).
   */
  issuedAt?: number;
  /** Regions finished by an earlier attempt (with their results): a retry redoes only the others. */
  completedRegions?: Record<string, RegionResult>;
  /**
   * When the job first completed (ISO 8601), written by the worker right after the completion: a later
   * completion (a retry of the completed job) is then reported with `repeated` and not counted again.
   */
  firstCompletedAt?: string;
  /**
   * Bundles of someone else this job replaced (`replace: true`), per region: recorded the moment their
   * manifest is withdrawn, and what of them was removed as it happens, so every attempt (and a failure)
   * can say exactly what is gone.
   */
  replaced?: Record<string, ReplacedBundle>;
  /**
   * Where the job came from when a CI webhook made it: provider, repository, commit and rule (covered by
   * the job MAC, so a commit status can only be posted for the commit the webhook named).
   */
  origin?: JobOrigin;
  /**
   * The API found notification targets for this job (a principal's or rule's endpoints, or a commit
   * status): the worker then queues a notice when the job ends (notify/job-notice.ts).
   */
  notify?: true;
  /** Runs of the job started by a retry through the API (absent: 0); each run's end is notified once. */
  run?: number;
}

/** The CI event a job came from. */
export interface JobOrigin {
  provider: 'github' | 'gitlab';
  /** owner/name (GitHub) or the project's path with its namespace (GitLab). */
  repository: string;
  /** The commit, 40 (or 64) lowercase hex digits. */
  sha: string;
  /** The webhook rule that made the job. */
  rule?: string;
}

/**
 * How the note on what a replacing job removed starts, at the end of its failure's message (after the
 * regions' own errors, which the producer reads back from it).
 */
export const REPLACEMENT_NOTE = '; to replace the bundle published there before, this job had removed ';

/** A bundle someone else had published at a region's target, replaced by this job (`replace: true`). */
export interface ReplacedBundle {
  /** s3:// URL of its manifest, withdrawn just before this job's first part went there. */
  manifest: string;
  /** Job that had published it (absent: not written by bundlefarm). */
  owner?: string;
  /** s3:// URLs of the parts its manifest named (absent: the manifest could not be read). */
  parts?: string[];
  /** s3:// URLs of its objects this job removed so far: the manifest, and parts deleted or overwritten. */
  removed: string[];
}

/** 'building-filesystem': a job with `filesystem` is making its ext4 image from the tree or tarball. */
export type JobStage = 'queued' | 'preflight' | 'building-filesystem' | 'bundling' | 'uploading' | 'publishing' | 'done';

/** Where the filesystem build of a job with `filesystem` is (in `BundleJobProgress.filesystem`). */
export interface FilesystemProgress {
  /** scanning (trees: sizes and exclusions), writing (entries into the image), finishing (shrink, journal, fsck, partition table). */
  phase: 'scanning' | 'writing' | 'finishing' | 'done';
  /** Entries written so far. */
  entries: number;
  /** Bytes of regular files written so far. */
  fileBytes: number;
}

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
  /** Jobs with `filesystem`: the build of the image (its size is `totalIn` once bundling starts). */
  filesystem?: FilesystemProgress;
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
  /** The bundle someone else had published here, which this job replaced (`replace: true`). */
  replaced?: ReplacedBundle;
  /**
   * The AMI the published bundle is registered as (the target asked for `register`). A region published
   * but not yet registered (registration failed, or the worker died in between) has a manifestKey and no
   * imageId: a retry registers it alone, never bundles it again.
   */
  imageId?: string;
  /** The AMI's name, with imageId. */
  imageName?: string;
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
  /** The job had completed before (a retry of a completed job): metrics do not count it, or its bytes, again. */
  repeated?: true;
}
