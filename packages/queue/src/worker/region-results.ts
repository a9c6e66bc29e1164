/**
 * Per-region outcomes of a bundle job. A region is *published* once its manifest is up; published
 * regions are recorded in the job's `completedRegions` at once, so a later attempt skips them. Failed
 * regions are not recorded there (a retry must redo them): their errors go into the job's failure.
 */
import { BundlefarmError, InvalidOptionError } from '@bundlefarm/errors';
import { manifestName, parseManifest } from '@bundlefarm/format';
import { checkKeyPrefix, formatS3Url, S3PartSource, type RetryOptions, type WithdrawnBundle } from '@bundlefarm/s3';
import type { RegionTarget } from '../job-spec.js';
import { REPLACEMENT_NOTE, type RegionResult, type ReplacedBundle } from '../job-types.js';
import type { S3ClientLike } from './region-clients.js';

/** Object keys of a bundle published into `target` (and the bundle it replaced there, if any). */
export function publishedResult(target: RegionTarget, name: string, partFiles: readonly string[], replaced?: ReplacedBundle): RegionResult {
  const prefix = checkKeyPrefix(target.prefix);
  return {
    region: target.region,
    bucket: target.bucket,
    manifestKey: prefix + manifestName(name),
    partKeys: partFiles.map((f) => prefix + f),
    ...(replaced ? { replaced } : {}),
  };
}

/**
 * How the objects a job writes are marked as its own (`x-amz-meta-bundlefarm-job`): `ID@CREATED`, the job's
 * id and its creation time (ms). Every attempt of one job (retries, a takeover after a crash, a manual
 * retry) shares it; a later job that reuses the id (an Idempotency-Key, once the first job is long gone)
 * does not, so it cannot pass another's bundle off as its own.
 */
export function jobOwner(id: string | undefined, created: number): string {
  if (id === undefined || !/^[A-Za-z0-9._-]{1,200}$/.test(id)) {
    throw new InvalidOptionError('job id', `${JSON.stringify(id)} cannot mark the objects a job writes: use 1-200 letters, digits, ".", "_" or "-"`);
  }
  return `${id}@${Math.trunc(created)}`;
}

/** `s3://bucket/key` → `key`. */
export function keyOf(url: string, bucket: string): string {
  const head = formatS3Url(bucket);
  return url.startsWith(head) ? url.slice(head.length) : url;
}

/** The record of a replaced bundle once its manifest was withdrawn (again: a later attempt may find another). */
export function replacedBy(earlier: ReplacedBundle | undefined, withdrawn: WithdrawnBundle): ReplacedBundle {
  const parts = [...new Set([...(earlier?.parts ?? []), ...(withdrawn.parts ?? [])])];
  return {
    manifest: earlier?.manifest ?? withdrawn.manifest,
    ...(earlier?.owner !== undefined ? { owner: earlier.owner } : withdrawn.owner !== undefined ? { owner: withdrawn.owner } : {}),
    ...(parts.length > 0 ? { parts } : {}),
    removed: [...new Set([...(earlier?.removed ?? []), withdrawn.manifest])],
  };
}

/** `replaced` once the keys `gone` (written over by this job, or deleted) are counted: its parts among them are removed. */
export function afterReplacement(replaced: ReplacedBundle, bucket: string, gone: readonly string[]): ReplacedBundle {
  const urls = new Set(gone.map((k) => formatS3Url(bucket, k)));
  const removed = new Set(replaced.removed);
  for (const p of replaced.parts ?? []) if (urls.has(p)) removed.add(p);
  return { ...replaced, removed: [...removed] };
}

/** URLs listed in a failure before the rest is only counted (the job's status lists them all). */
const LISTED = 20;


/** `failure`, its message extended with what of the bundles being replaced the job removed (none: unchanged). */
export function replacementNote(failure: BundlefarmError, replaced: readonly ReplacedBundle[]): BundlefarmError {
  const removed = replaced.flatMap((r) => r.removed);
  if (removed.length === 0) return failure;
  const listed = removed.slice(0, LISTED).join(', ') + (removed.length > LISTED ? ` and ${removed.length - LISTED} more (the job's status lists them all)` : '');
  const message = `${failure.message}${REPLACEMENT_NOTE}${removed.length} object${removed.length === 1 ? '' : 's'}: ${listed}`;
  return new BundlefarmError(failure.code, message, failure.transient, { cause: failure, details: { ...failure.details, replacedRemoved: removed.length } });
}


/** The regions an earlier attempt published (entries without a manifest, or with an error, do not count). */
export function publishedEarlier(completed: Record<string, RegionResult> | undefined): Record<string, RegionResult> {
  const out: Record<string, RegionResult> = {};
  for (const [region, r] of Object.entries(completed ?? {})) {
    if (r && typeof r === 'object' && r.manifestKey && !r.error) out[region] = r;
  }
  return out;
}

/** What a published manifest says about its bundle (for a job whose every region was published before). */
export interface PublishedFacts {
  name: string;
  digest: string;
  size: number;
  bundledSize: number;
  parts: number;
}

/** Reads back the manifest of a published region. */
export async function readPublishedFacts(
  client: S3ClientLike,
  result: RegionResult,
  options: { retry?: RetryOptions; signal?: AbortSignal } = {},
): Promise<PublishedFacts> {
  const key = result.manifestKey!;
  const slash = key.lastIndexOf('/');
  const source = new S3PartSource({
    client,
    bucket: result.bucket,
    prefix: key.slice(0, slash + 1),
    ...(options.retry ? { retry: options.retry } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const { manifest } = parseManifest(await source.readManifest(key.slice(slash + 1)));
  const image = manifest.image;
  return { name: image.name, digest: image.digest, size: image.size, bundledSize: image.bundledSize, parts: image.parts.length };
}
