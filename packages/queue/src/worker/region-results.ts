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


/**
 * The regions an earlier attempt published (entries without a manifest, or with an error, do not count).
 * Job data is read back from Redis, where anyone who can write to it may have put it (the job MAC covers
 * the spec, not what attempts record): an entry counts only if it is what this job itself would have
 * recorded — a region of the spec, its bucket, and a manifest and parts directly under its prefix, named
 * after the job's bundle when the spec names it. Anything else is dropped (and returned in `refused`),
 * so that region is published again: a forged entry cannot make the job skip a region, report someone
 * else's bundle as its own, or register another manifest as its AMI.
 */
export function publishedEarlier(
  completed: Record<string, RegionResult> | undefined,
  spec?: { name?: string | undefined; regions: readonly RegionTarget[] },
): Record<string, RegionResult> & { [REFUSED]?: string[] } {
  const out: Record<string, RegionResult> & { [REFUSED]?: string[] } = {};
  const refused: string[] = [];
  for (const [region, r] of Object.entries(completed ?? {})) {
    if (!(r && typeof r === 'object' && r.manifestKey && !r.error)) continue;
    if (spec && !recordedByThisJob(region, r, spec)) {
      refused.push(region);
      continue;
    }
    out[region] = r;
  }
  if (refused.length > 0) Object.defineProperty(out, REFUSED, { value: refused, enumerable: false });
  return out;
}

/** Under `publishedEarlier(…)[REFUSED]`: regions whose recorded result did not match the spec. */
export const REFUSED = Symbol('refused');

function recordedByThisJob(region: string, r: RegionResult, spec: { name?: string | undefined; regions: readonly RegionTarget[] }): boolean {
  const target = spec.regions.find((t) => t.region === region);
  if (!target || r.region !== region || r.bucket !== target.bucket || typeof r.manifestKey !== 'string') return false;
  let prefix: string;
  try {
    prefix = checkKeyPrefix(target.prefix);
  } catch {
    return false;
  }
  if (!r.manifestKey.startsWith(prefix)) return false;
  const manifestFile = r.manifestKey.slice(prefix.length);
  if (!/^[A-Za-z0-9._-]+\.manifest\.xml$/.test(manifestFile)) return false;
  const name = manifestFile.slice(0, -'.manifest.xml'.length);
  if (spec.name !== undefined && name !== spec.name) return false;
  const part = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.part\\.\\d+$`);
  return Array.isArray(r.partKeys) && r.partKeys.every((k) => typeof k === 'string' && k.startsWith(prefix) && part.test(k.slice(prefix.length)));
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
