/**
 * Per-region failures of a job, as data. When an attempt fails because regions failed (preflight, the
 * upload, the manifest, the AMI registration), the worker records each failed region in the job's data
 * (`failedRegions`: region → `{ code, message, retryable }`), beside `completedRegions`; the job's
 * status and its end notice read them from there.
 *
 * What is read back from Redis is input like any other (anyone who can write there may have put it):
 * a record counts only when it has exactly the shape a worker writes, names only regions of the job's
 * spec, and agrees with the job's failure (BF_REGIONS_FAILED, or the one region's own code) — a record
 * left by an earlier attempt (each attempt clears it when it starts) is not passed off as this failure's.
 * Anything else is ignored. Jobs failed by earlier versions have no record: their regions' failures are
 * read, as then, from the `region: BF_CODE: message` list in the BF_REGIONS_FAILED message.
 *
 * One rule for a region's failure, whoever shows it (the job's status, its end notice): a recorded
 * failure of a BF_REGIONS_FAILED job counts only for a region its failure text names as failed (when the
 * text names any), and no failure counts for a region that has published its manifest — but for one
 * whose target asks for an AMI it does not have (its registration failed: the bundle is there, the AMI
 * is not).
 */
import { z } from 'zod';
import type { FailedReason } from './failure-reason.js';
import { REPLACEMENT_NOTE } from './job-types.js';

/** Why one region of a job failed. */
export interface RegionFailure {
  /** Stable error code (BF_…). */
  code: string;
  message: string;
  /** Whether trying again may help (a transient error). */
  retryable: boolean;
}

/** The failure code of a job some of whose regions failed (worker/worker-errors.ts RegionsFailedError). */
export const REGIONS_FAILED_CODE = 'BF_REGIONS_FAILED';

/** Longest message a record keeps (longer ones are cut when written; a longer one read back is not ours). */
export const REGION_FAILURE_MESSAGE_MAX = 8192;

const regionFailureSchema = z.strictObject({
  code: z.string().regex(/^BF_[A-Z0-9_]{1,64}$/),
  message: z.string().max(REGION_FAILURE_MESSAGE_MAX),
  retryable: z.boolean(),
});

/** The record of the regions that failed (`errors`: what each failed with), as a worker writes it. */
export function regionFailureRecord(errors: ReadonlyMap<string, { code: string; message: string; transient: boolean }>): Record<string, RegionFailure> {
  const out: Record<string, RegionFailure> = {};
  for (const [region, e] of errors) out[region] = { code: e.code, message: e.message.slice(0, REGION_FAILURE_MESSAGE_MAX), retryable: e.transient };
  return out;
}

/** A region of the job as it stands: whether its target asks for an AMI, and what it has published. */
export interface RegionStanding {
  region: string;
  /** The target asks for `register`. */
  register: boolean;
  /** Its manifest, once published. */
  manifestKey?: string | undefined;
  /** The AMI it is registered as. */
  imageId?: string | undefined;
}

/**
 * The per-region failures a job's data records for its `failure`, in the order of `regions` (the
 * spec's), for the regions a failure can be (see above); undefined when it records none that can be
 * trusted.
 */
export function recordedRegionFailures(data: unknown, failure: FailedReason | null | undefined, regions: readonly RegionStanding[]): Record<string, RegionFailure> | undefined {
  const recorded = trustedRecord(data, failure, regions.map((r) => r.region));
  return recorded && failedOnly(recorded, regions);
}

/**
 * Per-region failures of a failed job: what its data records (recordedRegionFailures), else — a job
 * failed by an earlier version — what its failure says: a one-region job's error is its region's; a
 * BF_REGIONS_FAILED message lists `region: BF_CODE: message` for each failed region. Only for the regions
 * a failure can be (see above).
 */
export function regionFailures(data: unknown, failure: FailedReason | null | undefined, regions: readonly RegionStanding[]): Record<string, RegionFailure> {
  const names = regions.map((r) => r.region);
  return failedOnly(trustedRecord(data, failure, names) ?? regionFailuresFromText(failure, names), regions);
}

/** The record in `data`, if it can be trusted as `failure`'s, for the regions the failure text names. */
function trustedRecord(data: unknown, failure: FailedReason | null | undefined, regions: readonly string[]): Record<string, RegionFailure> | undefined {
  if (!failure) return undefined;
  const raw = typeof data === 'object' && data !== null ? (data as { failedRegions?: unknown }).failedRegions : undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const record = raw as Record<string, unknown>;
  const keys = Object.keys(record);
  if (!keys.every((k) => regions.includes(k))) return undefined;
  // BF_REGIONS_FAILED names its failed regions: a recorded failure counts for those only
  const named = failure.code === REGIONS_FAILED_CODE ? Object.keys(regionFailuresFromText(failure, regions)) : [];
  const out: Record<string, RegionFailure> = {};
  for (const region of regions) {
    if (!Object.hasOwn(record, region)) continue;
    const entry = regionFailureSchema.safeParse(record[region]);
    if (!entry.success) return undefined;
    if (named.length === 0 || named.includes(region)) out[region] = entry.data;
  }
  // the record must be this failure's: every region's, or the one region's own error
  const entries = Object.values(out);
  const agrees = failure.code === REGIONS_FAILED_CODE ? entries.length > 0 : entries.length === 1 && entries[0]!.code === failure.code;
  return agrees ? out : undefined;
}

/** `failures` but of regions that published their manifest (unless they lack the AMI they ask for). */
function failedOnly(failures: Record<string, RegionFailure>, regions: readonly RegionStanding[]): Record<string, RegionFailure> {
  const out: Record<string, RegionFailure> = {};
  for (const r of regions) {
    if (!Object.hasOwn(failures, r.region)) continue;
    const failure = failures[r.region]!;
    if (r.manifestKey === undefined || (r.register && r.imageId === undefined)) out[r.region] = failure;
  }
  return out;
}

/**
 * Per-region failures read from the failure's text, as jobs failed by earlier versions hold them (not
 * whether each was retryable: that is not in the text, so false).
 */
export function regionFailuresFromText(failure: FailedReason | null | undefined, regions: readonly string[]): Record<string, RegionFailure> {
  const out: Record<string, RegionFailure> = {};
  if (!failure) return out;
  const error = (code: string, message: string): RegionFailure => ({ code, message, retryable: false });
  if (failure.code !== REGIONS_FAILED_CODE) {
    if (regions.length === 1) out[regions[0]!] = error(failure.code, failure.message);
    return out;
  }
  // a replacing job's note on what it removed ends the message; the regions' own errors come before it
  const note = failure.message.indexOf(REPLACEMENT_NOTE);
  const regionsPart = note >= 0 ? failure.message.slice(0, note) : failure.message;
  const body = regionsPart.replace(/^\d+ regions? failed: /, '').replace(/ \(published: [^)]*\)$/, '');
  const starts = regions
    .map((region) => ({ region, at: body.search(new RegExp(`(^|; )${region.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')}: BF_`)) }))
    .filter((x) => x.at >= 0)
    .sort((a, b) => a.at - b.at);
  starts.forEach(({ region, at }, i) => {
    const from = at === 0 ? 0 : at + 2;
    const to = i + 1 < starts.length ? starts[i + 1]!.at : body.length;
    const m = /^[^:]+: (BF_[A-Z0-9_]+): ([\s\S]*)$/.exec(body.slice(from, to));
    if (m) out[region] = error(m[1]!, m[2]!);
  });
  return out;
}
