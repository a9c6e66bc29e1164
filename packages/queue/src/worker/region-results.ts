import type { BundlefarmError } from '@bundlefarm/errors';
import { manifestName, parseManifest } from '@bundlefarm/format';
import { checkKeyPrefix, S3PartSource, type RetryOptions } from '@bundlefarm/s3';
import type { RegionTarget } from '../job-spec.js';
import type { RegionResult } from '../job-types.js';
import type { S3ClientLike } from './region-clients.js';

/**
 * Per-region outcomes of a bundle job. A region is *published* once its manifest is up; published
 * regions are recorded in the job's `completedRegions` at once, so a later attempt skips them. Failed
 * regions are not recorded there (a retry must redo them): their errors go into the job's failure.
 */

/** Object keys of a bundle published into `target`. */
export function publishedResult(target: RegionTarget, name: string, partFiles: readonly string[]): RegionResult {
  const prefix = checkKeyPrefix(target.prefix);
  return {
    region: target.region,
    bucket: target.bucket,
    manifestKey: prefix + manifestName(name),
    partKeys: partFiles.map((f) => prefix + f),
  };
}

export function failedResult(target: RegionTarget, error: BundlefarmError): RegionResult {
  return { region: target.region, bucket: target.bucket, error: error.toJSON() };
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
