/*
 * Job-end notices: what the service tells the outside world when a bundle job ends (completed, failed,
 * cancelled) — and, for webhook jobs, that it was queued (a pending commit status).
 *
 * A notice is a BullMQ job on its own queue (NOTIFY_QUEUE) whose id is `JOB.STATE.RUN`: BullMQ adds
 * nothing for an id that exists, so however often a job end is reported — a worker retrying the
 * attempt, a worker killed after reporting and the job run again, the API cancelling a job a worker
 * took meanwhile — one notice exists per end of each run. Its payload is built once, by whoever saw the
 * job end (the worker, or the API for a job cancelled before it started), and never holds anything
 * secret: names, targets, keys, sizes, AMI ids and the error. The API's notifier (@bundlefarm/server)
 * delivers it, signed, to the endpoints its configuration names — URLs and secrets never travel through
 * Redis. With a job MAC key the notice carries a MAC too, so one written straight into Redis is not
 * delivered.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { posix } from 'node:path';
import type { JobsOptions, Queue } from 'bullmq';
import { canonicalJson } from '../canonical-json.js';
import { parseFailedReason } from '../failure-reason.js';
import type { BundleJobData, BundleJobResult, JobOrigin, RegionResult } from '../job-types.js';
import { recordedRegionFailures } from '../region-failures.js';

/** Name of the BullMQ queue of notices. */
export const NOTIFY_QUEUE = 'notifications';

/** The custom backoff type of notices; the notifier's worker says what it means (its own settings). */
export const NOTIFY_BACKOFF = 'bundlefarm-notify';

/** Attempts of a notice as BullMQ counts them; the notifier stops earlier, at its configured bound. */
export const NOTICE_MAX_ATTEMPTS = 100;

export type JobEndState = 'completed' | 'failed' | 'cancelled';
export type NoticeState = JobEndState | 'queued';

export const JOB_END_STATES: readonly JobEndState[] = ['completed', 'failed', 'cancelled'];

export interface NoticeError {
  code: string;
  message: string;
}

export interface NoticeRegion {
  region: string;
  bucket: string;
  prefix: string;
  /** Key of NAME.manifest.xml (absent when the region failed). */
  manifestKey?: string;
  /** Number of parts. */
  parts?: number;
  /** The AMI registered from the manifest, when the job registered one, and its name. */
  imageId?: string;
  imageName?: string;
  error?: NoticeError;
}

/** The body of a notification (JSON). */
export interface NotificationPayload {
  /** `job.completed`, `job.failed`, `job.cancelled` (or `job.queued`, for commit statuses only). */
  event: `job.${NoticeState}`;
  /** Id of the notice's delivery to one endpoint: set by the notifier, the same on every retry. */
  delivery?: string;
  job: string;
  /** The run of the job (retries through the API start a new one). */
  run: number;
  state: NoticeState;
  principal?: string;
  source: string;
  name: string;
  spec: { image: string; architecture: string; targets: Array<{ region: string; bucket: string; prefix: string }> };
  origin?: JobOrigin;
  /** A completed job's bundle. */
  result?: { digest: string; size: number; bundledSize: number; parts: number; seconds: number };
  /** Per target region, in the spec's order. */
  regions: NoticeRegion[];
  /** Why a failed or cancelled job ended. */
  error?: NoticeError;
  /** When the job ended (or was queued), ISO 8601. */
  at: string;
}

/** The data of a notice job. */
export interface NoticeJobData {
  notice: NotificationPayload;
  /** HMAC of the notice with the job MAC key (noticeMac), when the sender has the key. */
  mac?: string;
}

export interface JobEndInput {
  id: string;
  data: BundleJobData;
  state: NoticeState;
  result?: BundleJobResult;
  /** `BF_CODE: message`, as in a failed job's failedReason. */
  failedReason?: string;
  at?: Date;
}

const MAX_MESSAGE = 2000;

/** The notice of a job's end (or queuing), from the job's data and its result or failure. */
export function jobNotice(input: JobEndInput): NotificationPayload {
  const { data, result } = input;
  const spec = data.spec;
  const name = spec.name ?? posix.basename(spec.image.startsWith('s3://') ? spec.image.replace(/^s3:\/\/[^/]+\//, '') : spec.image);
  const failure = input.failedReason !== undefined ? parseFailure(input.failedReason) : undefined;
  const published = (region: string): RegionResult | undefined => result?.regions[region] ?? data.completedRegions?.[region];
  // the regions that failed, as the worker recorded them in the job — for the regions a failure can be
  // (region-failures.ts: not one published, but for its registration; the job's status says the same)
  const standing = spec.regions.map((t) => ({ region: t.region, register: t.register !== undefined, manifestKey: published(t.region)?.manifestKey, imageId: published(t.region)?.imageId }));
  const failedRegions = recordedRegionFailures(data, parseFailedReason(input.failedReason), standing) ?? {};
  return {
    event: `job.${input.state}`,
    job: input.id,
    run: data.run ?? 0,
    state: input.state,
    ...(data.principal !== undefined ? { principal: data.principal } : {}),
    source: data.source,
    name,
    spec: { image: spec.image, architecture: spec.architecture, targets: spec.regions.map((r) => ({ region: r.region, bucket: r.bucket, prefix: r.prefix })) },
    ...(data.origin !== undefined ? { origin: data.origin } : {}),
    ...(result !== undefined
      ? { result: { digest: result.digest, size: result.size, bundledSize: result.bundledSize, parts: result.parts, seconds: result.seconds } }
      : {}),
    regions: spec.regions.map((t) => {
      const r = published(t.region);
      return {
        region: t.region,
        bucket: t.bucket,
        prefix: t.prefix,
        ...(r?.manifestKey !== undefined ? { manifestKey: r.manifestKey } : {}),
        ...(r?.partKeys !== undefined && r.manifestKey !== undefined ? { parts: r.partKeys.length } : {}),
        ...(r?.imageId !== undefined ? { imageId: r.imageId } : {}),
        ...(r?.imageName !== undefined ? { imageName: r.imageName } : {}),
        ...(r?.error !== undefined
          ? { error: { code: r.error.code, message: r.error.message.slice(0, MAX_MESSAGE) } }
          : failedRegions[t.region] !== undefined
            ? { error: { code: failedRegions[t.region]!.code, message: failedRegions[t.region]!.message.slice(0, MAX_MESSAGE) } }
            : {}),
      };
    }),
    ...(failure !== undefined ? { error: failure } : {}),
    at: (input.at ?? new Date()).toISOString(),
  };
}

/** The notice's error from a failedReason (`BF_CODE: message`; anything else is BF_INTERNAL). */
function parseFailure(reason: string): NoticeError {
  const parsed = parseFailedReason(reason);
  return parsed ? { code: parsed.code, message: parsed.message.slice(0, MAX_MESSAGE) } : { code: 'BF_INTERNAL', message: reason.slice(0, MAX_MESSAGE) };
}

/** The notice's job id: one per job, state and run. */
export function noticeId(job: string, state: NoticeState, run: number): string {
  return `${job}.${state}.${run}`;
}

const MAC_VERSION = 'n1';

export function noticeMac(key: Buffer, notice: NotificationPayload): string {
  return `${MAC_VERSION}:${createHmac('sha256', key).update(canonicalJson({ v: MAC_VERSION, notice }), 'utf8').digest('hex')}`;
}

export function noticeMacValid(key: Buffer, notice: unknown, mac: unknown): boolean {
  if (typeof mac !== 'string' || !/^n1:[0-9a-f]{64}$/.test(mac)) return false;
  const expected = Buffer.from(noticeMac(key, notice as NotificationPayload).slice(3), 'hex');
  return timingSafeEqual(expected, Buffer.from(mac.slice(3), 'hex'));
}

/** Options of a notice job: its id, bounded retries by the notifier's backoff, kept a while once done. */
export function noticeJobOptions(notice: NotificationPayload, delayMs = 0): JobsOptions {
  return {
    jobId: noticeId(notice.job, notice.state, notice.run),
    delay: delayMs,
    attempts: NOTICE_MAX_ATTEMPTS,
    backoff: { type: NOTIFY_BACKOFF },
    removeOnComplete: { count: 10_000, age: 30 * 24 * 3600 },
    removeOnFail: { count: 10_000, age: 30 * 24 * 3600 },
  };
}

/**
 * Queues a notice (nothing when one with its id exists already). Returns whether it was added.
 * `delayMs`: a notice queued just before its job is moved to its final state waits that long first.
 */
export async function addNotice(queue: Queue<NoticeJobData>, notice: NotificationPayload, macKey: Buffer | undefined, delayMs = 0): Promise<boolean> {
  const opts = noticeJobOptions(notice, delayMs);
  if (await queue.getJob(opts.jobId!)) return false;
  await queue.add(notice.state, { notice, ...(macKey !== undefined ? { mac: noticeMac(macKey, notice) } : {}) }, opts);
  return true;
}
