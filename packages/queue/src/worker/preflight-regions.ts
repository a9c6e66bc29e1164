/**
 * Checks every destination of a job at once, before any CPU is spent on the image, and writes nothing
 * that is there already:
 *
 * 1. Is a bundle of this name published there (HeadObject of `NAME.manifest.xml`)? Someone else's
 *    manifest, without `replace`, refuses the whole job at once with BundleExistsError naming every such
 *    object — before anything is written anywhere. A manifest of this very job (an earlier attempt
 *    published it) is the job's own to replace. Nothing is withdrawn here: that happens in the sink,
 *    just before the first part goes to the region (see S3PartSink).
 * 2. The bucket exists, is in the region, takes an object with the bundle's ACL from these credentials
 *    (see preflightTarget: a probe object of its own, written and deleted).
 *
 * Resolves with the regions that failed and why (none: all usable).
 */
import type { BundlefarmError } from '@bundlefarm/errors';
import { manifestName } from '@bundlefarm/format';
import { preflightTarget, publishedManifest, refuseForeign, type PublishedManifest, type RetryOptions, type S3BundleAcl } from '@bundlefarm/s3';
import type { RegionTarget } from '../job-spec.js';
import { asBundlefarmError } from './job-failure.js';
import type { RegionClients } from './region-clients.js';

export interface PreflightOutcome {
  failed: Map<string, BundlefarmError>;
  /** What was found at each region that could be looked at. */
  published: Map<string, PublishedManifest>;
  /** Wall time of the checks, ms. */
  ms: number;
}

export interface PreflightRegionsOptions {
  acl: S3BundleAcl;
  /** Name of the bundle about to be uploaded. */
  bundleName: string;
  /** The job's mark (see jobOwner): what its own objects carry, probes included. */
  owner: string;
  /** The job may replace someone else's bundle (spec `replace`). */
  replace: boolean;
  /** Retries of the HeadObject. */
  retry?: RetryOptions;
  signal?: AbortSignal;
}

export async function preflightRegions(
  targets: readonly RegionTarget[],
  clients: RegionClients,
  options: PreflightRegionsOptions,
): Promise<PreflightOutcome> {
  const started = performance.now();
  const failed = new Map<string, BundlefarmError>();
  const published = new Map<string, PublishedManifest>();
  const signal = options.signal ? { signal: options.signal } : {};
  const manifest = manifestName(options.bundleName);
  await Promise.all(
    targets.map(async (t) => {
      try {
        const found = await publishedManifest(clients.forRegion(t.region), t, manifest, options.owner, { ...(options.retry ? { retry: options.retry } : {}), ...signal });
        published.set(t.region, found);
      } catch (err) {
        failed.set(t.region, asBundlefarmError(err));
      }
    }),
  );
  if (!options.replace) refuseForeign(targets.flatMap((t) => (published.has(t.region) ? [{ bucket: t.bucket, manifest: published.get(t.region)! }] : [])));
  await Promise.all(
    targets
      .filter((t) => !failed.has(t.region))
      .map(async (t) => {
        try {
          await preflightTarget(clients.forRegion(t.region), { region: t.region, bucket: t.bucket, prefix: t.prefix }, { acl: options.acl, owner: options.owner, ...signal });
        } catch (err) {
          failed.set(t.region, asBundlefarmError(err));
        }
      }),
  );
  // report in the job's region order
  const ordered = new Map(targets.flatMap((t) => (failed.has(t.region) ? [[t.region, failed.get(t.region)!] as const] : [])));
  return { failed: ordered, published, ms: performance.now() - started };
}
