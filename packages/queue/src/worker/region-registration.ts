/**
 * Registering a job's published regions as AMIs (targets with `register`), after their manifests are up.
 *
 * Regions go one at a time, in the spec's order. Each registration is recorded in the job at once (its
 * `completedRegions` entry gets the `imageId`), so a retry — or another worker after a crash — never
 * registers a region twice, and never bundles a published region again: a region with a manifest and
 * no imageId is "published, not registered", and only registration is redone for it. Should a worker
 * die between EC2 creating the image and the job recording its id, registerOnce finds the image by its
 * name and manifest location and adopts it. A region whose registration fails is reported with its error;
 * the others are registered regardless.
 */
import { registerOnce } from '@bundlefarm/ec2';
import type { BundlefarmError } from '@bundlefarm/errors';
import type { JobSpec, RegionTarget } from '../job-spec.js';
import type { RegionResult } from '../job-types.js';
import { asBundlefarmError } from './job-failure.js';
import type { RegionClients } from './region-clients.js';
import type { WorkerLogger } from './worker-logger.js';

export interface RegistrationContext {
  clients: Pick<RegionClients, 'ec2ForRegion'>;
  log: WorkerLogger;
  /** Records the region's result (with its imageId) in the job, before the next region is registered. */
  record(region: string, result: RegionResult): Promise<void>;
}

/** Targets that ask for `register`, are published in `results`, and have no AMI yet. */
export function awaitingRegistration(spec: JobSpec, results: Readonly<Record<string, RegionResult>>): RegionTarget[] {
  return spec.regions.filter((t) => t.register !== undefined && results[t.region]?.manifestKey !== undefined && results[t.region]?.imageId === undefined);
}

/**
 * Registers every target awaiting registration; updates `results` in place and records each in the job.
 * Resolves with the regions that failed, and why.
 */
export async function registerPublished(spec: JobSpec, results: Record<string, RegionResult>, ctx: RegistrationContext): Promise<Map<string, BundlefarmError>> {
  const failed = new Map<string, BundlefarmError>();
  for (const target of awaitingRegistration(spec, results)) {
    const published = results[target.region]!;
    const register = target.register!;
    let outcome;
    try {
      outcome = await registerOnce(
        ctx.clients.ec2ForRegion(target.region),
        {
          manifest: { bucket: published.bucket, key: published.manifestKey! },
          name: register.name,
          architecture: register.architecture ?? spec.architecture,
          ...(register.description !== undefined ? { description: register.description } : {}),
          ...(register.virtualizationType !== undefined ? { virtualizationType: register.virtualizationType } : {}),
          ...(register.blockDeviceMappings !== undefined ? { blockDeviceMappings: register.blockDeviceMappings } : {}),
        },
        { region: target.region },
      );
    } catch (err) {
      const e = asBundlefarmError(err);
      failed.set(target.region, e);
      ctx.log.warn({ region: target.region, name: register.name, err: e }, 'AMI registration failed');
      continue;
    }
    results[target.region] = { ...published, imageId: outcome.imageId, imageName: register.name };
    await ctx.record(target.region, results[target.region]!);
    ctx.log.info({ region: target.region, imageId: outcome.imageId, name: register.name, adopted: outcome.adopted }, 'region registered');
  }
  return failed;
}
