import type { BundlefarmError } from '@bundlefarm/errors';
import { preflightTarget, type S3BundleAcl } from '@bundlefarm/s3';
import type { RegionTarget } from '../job-spec.js';
import { asBundlefarmError } from './job-failure.js';
import type { RegionClients } from './region-clients.js';

/**
 * Checks every destination of a job at once, before any CPU is spent on the image: bucket exists,
 * is in the region, takes an object with the bundle's ACL from these credentials (see preflightTarget).
 * Resolves with the regions that failed and why (none: all usable).
 */
export interface PreflightOutcome {
  failed: Map<string, BundlefarmError>;
  /** Wall time of the checks, ms. */
  ms: number;
}

export async function preflightRegions(
  targets: readonly RegionTarget[],
  clients: RegionClients,
  options: { acl: S3BundleAcl; signal?: AbortSignal },
): Promise<PreflightOutcome> {
  const started = performance.now();
  const failed = new Map<string, BundlefarmError>();
  await Promise.all(
    targets.map(async (t) => {
      try {
        await preflightTarget(
          clients.forRegion(t.region),
          { region: t.region, bucket: t.bucket, prefix: t.prefix },
          { acl: options.acl, ...(options.signal ? { signal: options.signal } : {}) },
        );
      } catch (err) {
        failed.set(t.region, asBundlefarmError(err));
      }
    }),
  );
  // report in the job's region order
  const ordered = new Map(targets.flatMap((t) => (failed.has(t.region) ? [[t.region, failed.get(t.region)!] as const] : [])));
  return { failed: ordered, ms: performance.now() - started };
}
