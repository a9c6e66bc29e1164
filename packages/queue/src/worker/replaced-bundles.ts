/**
 * The bundles of someone else a job replaces (`replace: true`), as its data records them
 * (`replaced`, per region). The sink withdraws such a manifest just before the region's first part:
 * that is recorded at once, and at the end of a failed attempt what of the bundle is gone — earlier
 * removals, and the parts this attempt wrote over — is settled, recorded, and said in the failure
 * (replacementNote). A completed job says it in its result (region-publisher.ts).
 */
import type { Job } from 'bullmq';
import { objectOwnership, type RetryOptions, type WithdrawnBundle } from '@bundlefarm/s3';
import type { RegionTarget } from '../job-spec.js';
import type { BundleJobData, BundleJobResult, ReplacedBundle } from '../job-types.js';
import type { RegionClients } from './region-clients.js';
import { afterReplacement, keyOf, replacedBy } from './region-results.js';
import type { WorkerLogger } from './worker-logger.js';

export interface ReplacedBundlesContext {
  job: Job<BundleJobData, BundleJobResult>;
  clients: RegionClients;
  retry: RetryOptions;
  log: WorkerLogger;
  /** A line in the job's BullMQ log (best effort). */
  note: (text: string) => Promise<void>;
  /** The job's mark (jobOwner). */
  owner: () => string;
}

export class ReplacedBundles {
  constructor(private readonly ctx: ReplacedBundlesContext) {}

  /** The sink withdrew a manifest before the region's first part: logged, and recorded when it was someone else's. */
  async recordWithdrawal(region: string, withdrawn: WithdrawnBundle): Promise<void> {
    const { job, log } = this.ctx;
    const whose = withdrawn.own ? 'an earlier attempt of this job' : withdrawn.owner !== undefined ? `job ${withdrawn.owner}` : 'not bundlefarm';
    log.info({ region, manifest: withdrawn.manifest, publishedBy: whose }, 'withdrew the published manifest before the first part');
    await this.ctx.note(`withdrew ${withdrawn.manifest} (published by ${whose}) before writing the first part`);
    if (withdrawn.own) return;
    // job.data holds it at once (for the failure's note) even should Redis not take it now
    await this.update(region, replacedBy(job.data.replaced?.[region], withdrawn)).catch((err: unknown) =>
      log.warn({ region, err }, 'could not record the withdrawn bundle in the job'),
    );
  }

  /**
   * At the end of a failed attempt: what of each replaced bundle is gone now — earlier removals, and the
   * parts this attempt wrote over (`writtenKeys`, deleted again since, or not) — recorded in the job when `record`.
   */
  async settle(record: boolean, writtenKeys: (region: string) => readonly string[]): Promise<ReplacedBundle[]> {
    const { job, log } = this.ctx;
    const replaced = job.data?.replaced ?? {};
    const out: ReplacedBundle[] = [];
    for (const t of job.data?.spec?.regions ?? []) {
      const r = replaced[t.region];
      if (!r) continue;
      const after = afterReplacement(r, t.bucket, await this.overwritten(t, r, writtenKeys(t.region)));
      if (record && after.removed.length !== r.removed.length) {
        await this.update(t.region, after).catch((err: unknown) => log.warn({ err }, 'could not record what was replaced'));
      }
      out.push(after);
    }
    return out;
  }

  /** Records what of the bundle replaced at `region` is gone. */
  async update(region: string, replaced: ReplacedBundle): Promise<void> {
    const { job } = this.ctx;
    await job.updateData({ ...job.data, replaced: { ...(job.data.replaced ?? {}), [region]: replaced } });
  }

  /**
   * Keys of `replaced`'s parts that this attempt sent a PUT for and that no longer hold someone else's
   * object (HeadObject: gone, or this job's own): overwritten, and deleted again or not. A part S3 cannot
   * say anything about is counted as gone.
   */
  private async overwritten(t: RegionTarget, replaced: ReplacedBundle, written: readonly string[]): Promise<string[]> {
    const parts = new Set((replaced.parts ?? []).map((url) => keyOf(url, t.bucket)));
    const touched = written.filter((k) => parts.has(k));
    const client = this.ctx.clients.forRegion(t.region);
    const owner = this.ctx.owner();
    const gone: string[] = [];
    // a few at a time: up to one bundle's parts
    for (let i = 0; i < touched.length; i += 16) {
      await Promise.all(
        touched.slice(i, i + 16).map(async (key) => {
          const found = await objectOwnership(client, t, key, { retry: { ...this.ctx.retry, attempts: 2 } }).catch(() => undefined);
          if (!(found?.exists && found.owner !== owner)) gone.push(key);
        }),
      );
    }
    return gone;
  }
}
