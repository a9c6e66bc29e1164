/**
 * Writing one bundle into the job's regions: the sink the engine bundles into (one S3PartSink over all
 * usable regions), then, once the bundle is complete, publishing each region.
 *
 * - The sink carries the job's mark on every object (`x-amz-meta-bundlefarm-job`, jobOwner). Just before a
 *   region's first part it withdraws the manifest there, if any — one an earlier attempt of this job
 *   published, or (with `replace`) someone else's, which is recorded in the job as it happens
 *   (replaced-bundles.ts). A region that fails during the upload is given up (and cleaned by the sink)
 *   while the others go on.
 * - Publishing builds every region's signed manifest first (its partition's EC2 certificate, its
 *   kernel/ramdisk), then wipes the AES key and IV. Each manifest goes up only right after a lock
 *   renewal that succeeded (job-lock.ts), and each published region is recorded in the job data at once
 *   (`completedRegions`), so a retry redoes only what failed. A manifest that cannot be uploaded fails
 *   its region only.
 * - Then keys of this bundle's name that its manifest does not name (more parts of an earlier attempt,
 *   or of the bundle it replaced) and stray preflight probes of this job are removed from each published
 *   region — again only after a lock renewal, best effort, and never an object another job or a human
 *   wrote (@bundlefarm/s3's bundle-leftovers.ts). What of a replaced bundle is gone then is recorded in
 *   the region's result and the job.
 */
import type { Job } from 'bullmq';
import type { BundleResult } from '@bundlefarm/engine';
import type { BundlefarmError } from '@bundlefarm/errors';
import { buildSignedManifest, manifestName, type CertificateMaterial, type UserIdentity } from '@bundlefarm/format';
import { removeLeftovers, S3PartSink, type RetryEvent } from '@bundlefarm/s3';
import type { JobSpec, RegionTarget } from '../job-spec.js';
import type { BundleJobData, BundleJobResult, RegionResult } from '../job-types.js';
import { asBundlefarmError } from './job-failure.js';
import type { JobLock } from './job-lock.js';
import type { JobProgressReporter } from './progress-reporter.js';
import type { RegionClients } from './region-clients.js';
import { afterReplacement, keyOf, publishedResult } from './region-results.js';
import type { ReplacedBundles } from './replaced-bundles.js';
import type { WorkerConfig } from './worker-config.js';
import type { WorkerLogger } from './worker-logger.js';

export interface RegionPublisherContext {
  job: Job<BundleJobData, BundleJobResult>;
  config: WorkerConfig;
  clients: RegionClients;
  log: WorkerLogger;
  /** A line in the job's BullMQ log (best effort). */
  note: (text: string) => Promise<void>;
  /** The job's mark (jobOwner). */
  owner: () => string;
  reporter: JobProgressReporter;
  lock: JobLock;
  replaced: ReplacedBundles;
}

/** What the manifests of one bundle are signed with and say, besides the bundle itself. */
export interface ManifestInputs {
  spec: JobSpec;
  accountId: string;
  identity: UserIdentity;
  /** The EC2 certificate of each region's partition. */
  certificates: ReadonlyMap<string, CertificateMaterial>;
}

export interface Publication {
  /** Every published region of the job: earlier attempts' and this one's. */
  completed: Record<string, RegionResult>;
  /** Regions of this attempt that failed during the upload or while publishing, in that order. */
  failed: Map<string, BundlefarmError>;
}

export class RegionPublisher {
  private sinkOf: S3PartSink | undefined;

  constructor(private readonly ctx: RegionPublisherContext) {}

  /** The sink of this attempt, once opened (what it wrote tells what of a replaced bundle is gone). */
  get sink(): S3PartSink | undefined {
    return this.sinkOf;
  }

  /** The sink over `targets`, stopped by `signal` (cleaning up) or `abandonSignal` (leaving everything). */
  openSink(
    targets: readonly RegionTarget[],
    replace: boolean,
    signals: { signal: AbortSignal; abandonSignal: AbortSignal },
    onRetry: (e: RetryEvent & { region?: string }) => void,
  ): S3PartSink {
    const { config, clients, reporter, log } = this.ctx;
    this.sinkOf = new S3PartSink({
      targets: targets.map((t) => ({ region: t.region, client: clients.forRegion(t.region), bucket: t.bucket, prefix: t.prefix })),
      owner: this.ctx.owner(),
      replace,
      onWithdrawn: (region, withdrawn) => this.ctx.replaced.recordWithdrawal(region, withdrawn),
      acl: config.s3.acl,
      maxInFlight: config.s3.partsInFlight,
      retry: config.s3.retry,
      signal: signals.signal,
      abandonSignal: signals.abandonSignal,
      onRetry,
      onRegionFailed: (region, err) => {
        reporter.regionFailed(region);
        log.warn({ region, err }, 'region failed during upload; going on with the others');
      },
    });
    return this.sinkOf;
  }

  /**
   * Publishes the complete bundle `result` (its secret wiped here) to the `targets` the sink still
   * serves, on top of what `earlier` attempts published; then removes leftovers.
   */
  async publish(result: BundleResult, targets: readonly RegionTarget[], earlier: Record<string, RegionResult>, inputs: ManifestInputs): Promise<Publication> {
    const { job, reporter, log, lock } = this.ctx;
    const sink = this.sinkOf!;
    const failed = new Map<string, BundlefarmError>(sink.failedRegions());
    const toPublish = targets.filter((t) => sink.healthyRegions().includes(t.region));
    let manifests: Map<string, string>;
    try {
      manifests = signedManifests(result, toPublish, inputs);
    } catch (err) {
      await sink.abort();
      throw err;
    } finally {
      wipeSecret(result);
    }

    const completed: Record<string, RegionResult> = { ...earlier };
    const partFiles = result.facts.parts.map((p) => p.filename);
    const manifestFile = manifestName(result.name);
    let published = 0;
    for (const target of toPublish) {
      // each manifest right after a lock check that succeeded: none goes up once another worker may own the job
      await lock.check();
      try {
        await sink.putManifestFor(target.region, manifestFile, manifests.get(target.region)!);
      } catch (err) {
        const e = asBundlefarmError(err);
        failed.set(target.region, e);
        reporter.regionFailed(target.region);
        log.warn({ region: target.region, err: e }, 'manifest upload failed');
        continue;
      }
      completed[target.region] = publishedResult(target, result.name, partFiles, job.data.replaced?.[target.region]);
      // recorded at once: a retry (or another worker after a crash) skips this region
      await job.updateData({ ...job.data, completedRegions: { ...completed } });
      reporter.regionPublished(target.region, partFiles.length, ++published, toPublish.length);
      log.info({ region: target.region, bucket: target.bucket, manifestKey: completed[target.region]!.manifestKey }, 'region published');
      await this.ctx.note(`published ${target.region}: s3://${target.bucket}/${completed[target.region]!.manifestKey}`);
    }
    // deletes only while the job is still ours (self-fencing may have stopped it meanwhile)
    await lock.check();
    await this.removeLeftovers(
      toPublish.filter((t) => !failed.has(t.region)),
      result.name,
      completed,
    );
    return { completed, failed };
  }

  /**
   * Removes stray keys of this bundle from the regions just published (see @bundlefarm/s3's bundle-leftovers.ts): this
   * job's own, and the parts of a bundle it replaced; never fails the job. What of a replaced bundle is
   * gone then is recorded in the region's result and the job.
   */
  private async removeLeftovers(published: readonly RegionTarget[], name: string, results: Record<string, RegionResult>): Promise<void> {
    const { job, config, clients, log } = this.ctx;
    const retry = config.s3.retry;
    await Promise.all(
      published.map(async (t) => {
        // a bundle is replaced only by a job that asked to (`replace`, under the job MAC): a `replaced` record
        // in the data of any other job (written into Redis) must not open its parts to deletion
        const replaced = job.data.spec.replace === true ? job.data.replaced?.[t.region] : undefined;
        const keep = results[t.region]?.partKeys ?? [];
        let deleted: string[] = [];
        try {
          const out = await removeLeftovers(clients.forRegion(t.region), t, name, keep, {
            owner: this.ctx.owner(),
            ...(replaced?.parts ? { replacedParts: replaced.parts.map((url) => keyOf(url, t.bucket)) } : {}),
            retry,
          });
          deleted = out.removed;
          if (out.removed.length > 0) log.info({ region: t.region, bucket: t.bucket, removed: out.removed }, 'removed leftovers of earlier attempts');
          if (out.foreign.length > 0) log.info({ region: t.region, bucket: t.bucket, left: out.foreign }, 'left objects named like leftovers that another writer owns');
        } catch (err) {
          // the bundle is complete and consistent; stray keys cost storage only, and the next run retries
          log.warn({ region: t.region, bucket: t.bucket, err: asBundlefarmError(err) }, 'could not remove leftovers of earlier attempts');
        }
        if (replaced) {
          const after = afterReplacement(replaced, t.bucket, [...keep, ...deleted]);
          results[t.region] = { ...results[t.region]!, replaced: after };
          await this.ctx.replaced.update(t.region, after);
        }
      }),
    );
  }
}

/** Each target's signed manifest of the bundle (built for every region before any is published). */
function signedManifests(result: BundleResult, targets: readonly RegionTarget[], inputs: ManifestInputs): Map<string, string> {
  const { spec } = inputs;
  return new Map(
    targets.map((t) => {
      const { xml } = buildSignedManifest(
        {
          name: result.name,
          accountId: inputs.accountId,
          architecture: spec.architecture,
          ...(t.kernelId !== undefined ? { kernelId: t.kernelId } : {}),
          ...(t.ramdiskId !== undefined ? { ramdiskId: t.ramdiskId } : {}),
          ...(spec.blockDeviceMapping !== undefined ? { blockDeviceMapping: spec.blockDeviceMapping } : {}),
          ...(spec.productCodes !== undefined ? { productCodes: spec.productCodes } : {}),
        },
        result.facts,
        result.secret,
        inputs.identity,
        inputs.certificates.get(t.region)!,
      );
      return [t.region, xml] as const;
    }),
  );
}

/** Overwrites the AES key and IV in memory once they are no longer needed. */
export function wipeSecret(result: BundleResult): void {
  result.secret.key.fill(0);
  result.secret.iv.fill(0);
}
