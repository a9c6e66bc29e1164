import type { BundlefarmError } from '@bundlefarm/errors';
import { preflightTarget, type RetryOptions, type S3BundleAcl } from '@bundlefarm/s3';
import type { RegionTarget } from '../job-spec.js';
import { asBundlefarmError } from './job-failure.js';
import type { RegionClients } from './region-clients.js';
import { withdrawManifest } from './region-leftovers.js';

/**
 * Checks every destination of a job at once, before any CPU is spent on the image: bucket exists,
 * is in the region, takes an object with the bundle's ACL from these credentials (see preflightTarget).
 * Then, in each region that passed, withdraws the bundle's manifest should an earlier attempt have left
 * one (see region-leftovers.ts): nothing of this attempt may land under a manifest of another.
 * Resolves with the regions that failed and why (none: all usable).
 */
export interface PreflightOutcome {
  failed: Map<string, BundlefarmError>;
  /** Wall time of the checks, ms. */
  ms: number;
}

export interface PreflightRegionsOptions {
  acl: S3BundleAcl;
  /** Name of the bundle about to be uploaded: its manifest is withdrawn from each region that passes. */
  bundleName: string;
  /** Retries of the manifest's DeleteObject. */
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
  const signal = options.signal ? { signal: options.signal } : {};
  await Promise.all(
    targets.map(async (t) => {
      const client = clients.forRegion(t.region);
      try {
        await preflightTarget(client, { region: t.region, bucket: t.bucket, prefix: t.prefix }, { acl: options.acl, ...signal });
        await withdrawManifest(client, t, options.bundleName, { ...(options.retry ? { retry: options.retry } : {}), ...signal });
      } catch (err) {
        failed.set(t.region, asBundlefarmError(err));
      }
    }),
  );
  // report in the job's region order
  const ordered = new Map(targets.flatMap((t) => (failed.has(t.region) ? [[t.region, failed.get(t.region)!] as const] : [])));
  return { failed: ordered, ms: performance.now() - started };
}
