/**
 * The processor of bundle jobs: `(job, token, signal)` as BullMQ calls it.
 *
 * 1. The spec is validated again (producers are not trusted to have done it), the job's MAC, principal
 *    and scope are checked (job-authorization.ts) and the identity looked up: a bad spec, a job no
 *    principal vouches for or an unknown identity fails the job at once (UnrecoverableError, no retries).
 * 2. The image reference is resolved (s3:// or a path inside the image root — nothing outside it) and
 *    the image opened and checked (open + fstat, or HeadObject; 1 byte to 10 GiB) before any target is
 *    looked at: a missing or unusable image fails the job with nothing anywhere touched. With
 *    `filesystem`, the image is a root tree or a rootfs tarball (rootfs-source.ts), found and checked the
 *    same way, and a job that cannot fit the worker's scratch limit is refused here (BF_SCRATCH_LIMIT).
 *    Every job starts by removing what killed workers of this host left in the scratch space.
 * 3. Regions published by an earlier attempt (`completedRegions`) are skipped. The job takes the claim
 *    on every other target in Redis (target-claims.ts): while another job writes a bundle of this name
 *    there, this one waits, delayed in the queue (not a failed attempt). Each such region is then
 *    preflighted before any CPU is spent (preflight-regions.ts): a bundle of this name that someone
 *    else published there refuses the whole job (BF_BUNDLE_EXISTS) unless the spec says `replace`.
 *    A transient preflight failure fails the attempt at once (the retry bundles once for all regions);
 *    a permanent one leaves that region out: the job bundles for the others and fails in the end naming
 *    it (if every region fails, it fails right there).
 * 4. (`filesystem`) The ext4 image is built in the scratch space (stage "building-filesystem"), and
 *    deleted once bundled, however the attempt ends.
 *    The image is bundled once (engine, on the process's shared pool) into one S3PartSink over all
 *    usable regions; a region that fails during the upload is given up and cleaned by the sink while
 *    the others go on. Every object written carries the job's mark (`x-amz-meta-bundlefarm-job`: its
 *    id and creation time, the same for every attempt of the job; see jobOwner). Just
 *    before a region's first part, the sink withdraws the manifest there, if any: one an earlier attempt
 *    of this job published (it names parts this attempt is about to overwrite), or — with `replace` —
 *    someone else's, which is then recorded in the job (`replaced`) as it happens: a job that fails
 *    after that says in its failure exactly what of that bundle it removed, one that completes says it
 *    in its result.
 * 5. Each region gets its own signed manifest (its partition's EC2 certificate, its kernel/ramdisk),
 *    uploaded last; each published region is recorded in the job data at once, so a retry redoes only
 *    what failed. The AES key and IV live in this process's memory only, and are wiped afterwards.
 *    Then keys of this bundle's name that its manifest does not name (more parts of an earlier attempt,
 *    or of the bundle it replaced) and stray preflight probes of this job are removed from each published
 *    region (best effort; never an object another job or a human wrote: see @bundlefarm/s3's bundle-leftovers.ts).
 * 6. Published regions whose target asks for `register` are registered as AMIs (region-registration.ts),
 *    each AMI id recorded in the job at once; a region published earlier but not registered yet is only
 *    registered (never bundled again). A failed registration fails its region like a failed upload.
 * 7. Some region failed → the job fails with RegionsFailedError (retried if transient); else the
 *    result (merged with earlier attempts') is returned.
 *
 * The signal (BullMQ's cancel) stops preflight and bundling; the sink lets the uploads already sent end
 * and then deletes everything it uploaded — except when the reason is LOCK_LOST_REASON: another worker
 * may own the job by then and be writing the very same keys, so uploads in flight are cut off at once
 * and what landed is left for it to overwrite (and its leftover cleanup to take).
 * When the abort reason is SHUTDOWN_REASON the job is handed back to the queue (moved to wait, not
 * counted as an attempt) for another worker; any other reason fails it as cancelled. Publishing is not
 * interrupted by a cancel: it takes moments and must not leave half-recorded regions. It is by a lost
 * lock: each region's manifest goes up only right after a lock renewal that succeeded (holdsLock), and
 * leftovers are deleted only after one — LOCK_LOST_REASON also comes from the worker's self-fencing
 * (lock-fence.ts), which stops a job whose lock it cannot confirm before another worker may take it.
 */
import { DelayedError, WaitingError, type Job } from 'bullmq';
import { bundleImage, checkImageSize, FileImageSource, type BundleResult, type ImageSource, type WorkerPool } from '@bundlefarm/engine';
import { CancelledError, KeyNotConfiguredError, type BundlefarmError } from '@bundlefarm/errors';
import {
  buildSignedManifest,
  checkBundleName,
  ec2CertificateForPartition,
  manifestName,
  normalizeAccountId,
  partitionOfRegion,
  type CertificateMaterial,
} from '@bundlefarm/format';
import { removeStaleScratch, withRootfsImage } from '@bundlefarm/rootfs';
import { objectOwnership, removeLeftovers, S3PartSink, type RetryEvent, type WithdrawnBundle } from '@bundlefarm/s3';
import { jobSpecSchema, type FilesystemSpec, type JobSpec, type RegionTarget } from '../job-spec.js';
import type { BundleJobData, BundleJobProgress, BundleJobResult, RegionResult, ReplacedBundle } from '../job-types.js';
import { resolveImage } from './image-resolver.js';
import { checkJobScope, openedImageCheck } from './job-authorization.js';
import { asBundlefarmError, toJobFailure } from './job-failure.js';
import { preflightRegions } from './preflight-regions.js';
import { earlierPercent, JobProgressReporter } from './progress-reporter.js';
import { RootfsInput } from './rootfs-source.js';
import type { RegionClients } from './region-clients.js';
import { removeStagedImage } from './staged-image-cleanup.js';
import { awaitingRegistration, registerPublished } from './region-registration.js';
import { afterReplacement, jobOwner, keyOf, publishedEarlier, publishedResult, readPublishedFacts, REFUSED, replacedBy, replacementNote } from './region-results.js';
import type { WorkerConfig } from './worker-config.js';
import { InvalidJobSpecError } from '../producer/producer-errors.js';
import type { TargetClaims } from './target-claims.js';
import { JobLockLostError, RegionsFailedError, TargetBusyError } from './worker-errors.js';
import type { WorkerLogger } from './worker-logger.js';

export interface BundleProcessorContext {
  config: WorkerConfig;
  clients: RegionClients;
  pool: WorkerPool;
  logger: WorkerLogger;
  /** Claims on targets in Redis: one job at a time writes a bundle of a name to a bucket and prefix. */
  claims: TargetClaims;
}

/** Abort reason of jobs stopped because their worker is shutting down: they go back to the queue. */
export const SHUTDOWN_REASON = 'bundlefarm:worker-shutdown';
/** Abort reason of jobs cancelled through the cancel channel: they fail as BF_CANCELLED. */
export const CANCEL_REASON = 'bundlefarm:cancelled';
/** Abort reason of jobs whose lock this worker lost (another worker may run them now). */
export const LOCK_LOST_REASON = 'bundlefarm:lock-lost';

export type BundleJob = Job<BundleJobData, BundleJobResult>;
export type BundleProcessor = (job: BundleJob, token: string | undefined, signal: AbortSignal | undefined) => Promise<BundleJobResult>;

/** Engine progress callbacks per second (the reporter throttles what goes to Redis). */
const ENGINE_PROGRESS_MS = 250;

export function createBundleProcessor(ctx: BundleProcessorContext): BundleProcessor {
  // three declared parameters: BullMQ passes the cancel signal only to processors that take one
  return function processBundleJob(job, token, signal) {
    return new BundleJobRun(ctx, job, token, signal).run();
  };
}

/** One attempt at one job. */
class BundleJobRun {
  private readonly started = performance.now();
  private readonly log: WorkerLogger;
  private reporter: JobProgressReporter | undefined;
  /** Set once the bundle is complete and manifests are going up. */
  private publishing = false;
  /** `region \0 key` of parts whose upload needed a retry. */
  private readonly retried = new Set<string>();
  /** The sink of this attempt, once made (what it wrote tells what of a replaced bundle is gone). */
  private sink: S3PartSink | undefined;
  /** The targets this attempt holds the claim on, and the timer renewing it. */
  private claimed: { targets: RegionTarget[]; name: string; renew: NodeJS.Timeout } | undefined;
  /** Another worker may own the job now: its claims and data are not this attempt's to touch. */
  private lockLost = false;
  /** The job passed authorization (MAC, principal, scope): only then may its staged image be deleted. */
  private authorizedImage: { image: string; principal: string | undefined } | undefined;

  constructor(
    private readonly ctx: BundleProcessorContext,
    private readonly job: BundleJob,
    private readonly token: string | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.log = ctx.logger.child({ jobId: job.id, attempt: job.attemptsMade + 1 });
  }

  async run(): Promise<BundleJobResult> {
    try {
      const result = await this.execute();
      // the job ends here: its staged image (if it was uploaded) is not needed any more
      await this.removeStagedImage();
      return result;
    } catch (err) {
      await this.reporter?.close();
      if (err instanceof TargetBusyError) return await this.waitForTarget(err);
      // a bundle this job was replacing is (partly) gone: said in the failure, and recorded in the job —
      // unless the job may be another worker's by now (its data is then that worker's to write)
      this.lockLost = this.signal?.reason === LOCK_LOST_REASON || asBundlefarmError(err).code === JobLockLostError.code;
      const replaced = await this.settleReplaced(!this.lockLost);
      // an abort counts only before publishing: publishing runs to its end whatever the signal says
      const stopped = this.signal?.aborted === true && !this.publishing;
      if (stopped && this.signal?.reason === SHUTDOWN_REASON) return await this.handBack(err);
      const failure = !stopped
        ? asBundlefarmError(err)
        : this.signal?.reason === LOCK_LOST_REASON
          ? new JobLockLostError(this.job.id ?? '', { cause: err })
          : new CancelledError('bundle job', { cause: err });
      const seconds = this.seconds();
      if (failure instanceof CancelledError) this.log.info({ seconds }, 'job cancelled');
      else this.log.warn({ err: failure, seconds, retried: failure.transient }, 'job failed');
      const reported = replacementNote(failure, replaced);
      await this.note(`failed: ${reported.code}: ${reported.message}`);
      // failed for good (permanent, cancelled, or the last attempt): the staged image goes too
      if (!this.lockLost && (!reported.transient || this.job.attemptsMade + 1 >= (this.job.opts.attempts ?? 1))) await this.removeStagedImage();
      throw toJobFailure(reported);
    } finally {
      await this.releaseTargets();
    }
  }

  private async execute(): Promise<BundleJobResult> {
    const { job, ctx } = this;
    const { config, clients } = ctx;

    // what a killed worker of this host left in the scratch space goes first, whatever this job is
    await this.removeStaleScratch();
    const parsed = jobSpecSchema.safeParse(job.data?.spec);
    if (!parsed.success) {
      throw new InvalidJobSpecError(parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(spec)', message: i.message })));
    }
    const spec = parsed.data;
    // before the image or S3 is touched: a job is run only for a principal that may ask for it
    const principal = await checkJobScope(job, spec, config);
    this.authorizedImage = { image: spec.image, principal: typeof job.data.principal === 'string' ? job.data.principal : undefined };
    const identity = config.identities.get(spec.identity);
    if (!identity) throw new KeyNotConfiguredError(spec.identity);
    const accountId = normalizeAccountId(spec.accountId);

    const earlier = publishedEarlier(job.data.completedRegions, spec);
    const refused = earlier[REFUSED] ?? [];
    if (refused.length > 0) this.log.warn({ regions: refused }, 'ignored what the job data says an earlier attempt published there: it does not match the spec; publishing it again');
    const remaining = spec.regions.filter((r) => !earlier[r.region]);
    const certificates = new Map(remaining.map((r) => [r.region, this.ec2Certificate(r.region)]));
    this.log.info(
      { image: spec.image, bundle: spec.name, regions: remaining.map((r) => r.region), skipped: Object.keys(earlier), identity: spec.identity, source: job.data.source, principal },
      'job started',
    );
    await this.note(
      `attempt ${job.attemptsMade + 1} started: ${remaining.map((r) => r.region).join(', ') || 'no region left'}${Object.keys(earlier).length > 0 ? ` (already published: ${Object.keys(earlier).join(', ')})` : ''}`,
    );
    const skipped = Object.fromEntries(Object.entries(earlier).map(([region, r]) => [region, r.partKeys?.length ?? 0]));
    const reporter = new JobProgressReporter(
      (p) => job.updateProgress(p),
      remaining.map((r) => r.region),
      skipped,
      {
        intervalMs: config.progressIntervalMs,
        // a retry or a takeover goes on from what watchers last saw (job.progress is what was stored)
        floorPercent: earlierPercent(job.progress),
        onError: (err) => this.log.warn({ err }, 'progress update failed'),
      },
    );
    this.reporter = reporter;
    if (remaining.length === 0) return this.alreadyPublished(spec, earlier);

    // cancelling stops preflight and bundling, never publishing (see above)
    const bundling = new AbortController();
    // a lost lock abandons the sink: requests cut off at once, nothing deleted (another worker may own the keys)
    const lockLost = new AbortController();
    const onAbort = (): void => {
      if (this.signal?.reason === LOCK_LOST_REASON) lockLost.abort(LOCK_LOST_REASON);
      bundling.abort(this.signal?.reason);
    };
    if (this.signal?.aborted) onAbort();
    this.signal?.addEventListener('abort', onAbort, { once: true });
    const onRetry = (e: RetryEvent & { region?: string }): void => {
      if (e.operation === 'PutObject' && e.key !== undefined && !e.key.endsWith('.manifest.xml')) this.retried.add(`${e.region ?? ''}\0${e.key}`);
      this.log.debug({ region: e.region, operation: e.operation, bucket: e.bucket, key: e.key, attempt: e.attempt, delayMs: e.delayMs, reason: e.reason }, 'S3 retry');
    };

    let result: BundleResult;
    let sink: S3PartSink;
    let healthy: RegionTarget[];
    let preflightFailed: Map<string, BundlefarmError>;
    let source: ImageSource | undefined;
    let rootfs: RootfsInput | undefined;
    try {
      const inputOptions = { imageRoot: config.imageRoot, clients, retry: config.s3.retry, signal: bundling.signal, onRetry, imageScope: openedImageCheck(config, principal, spec.image) };
      if (spec.filesystem) {
        // a tree or tarball: found, opened and checked, and refused if it cannot fit the scratch space
        rootfs = await RootfsInput.open(spec.image, spec.filesystem.from, inputOptions);
        rootfs.checkFits(spec.filesystem, config.scratch.maxBytes);
      } else {
        source = await resolveImage(spec.image, inputOptions);
        // opened and checked before any target is looked at (the engine reads this very open source)
        checkImageSize(source.description, (await source.open()).size);
      }
      // the name is needed before bundling, to look for a bundle of that name (the engine derives it the same way)
      const name = checkBundleName(spec.name ?? (rootfs ?? source!).defaultName);
      // no other job writes this name to these targets meanwhile (else this one waits: TargetBusyError)
      await this.claimTargets(remaining, name);

      reporter.stage('preflight');
      const pre = await preflightRegions(remaining, clients, {
        acl: config.s3.acl,
        bundleName: name,
        owner: this.owner(),
        replace: spec.replace,
        retry: config.s3.retry,
        signal: bundling.signal,
      });
      if (bundling.signal.aborted) throw new CancelledError('bundle job');
      preflightFailed = pre.failed;
      this.log.info({ ms: Math.round(pre.ms), failed: [...pre.failed.keys()] }, 'preflight done');
      if ([...pre.failed.values()].some((e) => e.transient) || pre.failed.size === remaining.length) {
        throw this.regionsFailure(spec, pre.failed, Object.keys(earlier));
      }
      for (const [region, err] of pre.failed) {
        reporter.regionFailed(region);
        this.log.warn({ region, err }, 'region failed preflight; bundling for the others');
      }
      healthy = remaining.filter((r) => !pre.failed.has(r.region));
      await this.note(`preflight ok: ${healthy.map((r) => r.region).join(', ')}`);

      sink = new S3PartSink({
        targets: healthy.map((t) => ({ region: t.region, client: clients.forRegion(t.region), bucket: t.bucket, prefix: t.prefix })),
        owner: this.owner(),
        replace: spec.replace,
        onWithdrawn: (region, withdrawn) => this.recordWithdrawal(region, withdrawn),
        acl: config.s3.acl,
        maxInFlight: config.s3.partsInFlight,
        retry: config.s3.retry,
        signal: bundling.signal,
        abandonSignal: lockLost.signal,
        onRetry,
        onRegionFailed: (region, err) => {
          reporter.regionFailed(region);
          this.log.warn({ region, err }, 'region failed during upload; going on with the others');
        },
      });
      this.sink = sink;
      const pool = ctx.pool;
      const bundle = (image: ImageSource): Promise<BundleResult> => {
        reporter.stage('bundling');
        return bundleImage(
          {
            image,
            name,
            ...(spec.level !== undefined ? { level: spec.level } : {}),
            threads: Math.min(spec.threads ?? pool.threads, pool.threads),
            pool,
            signal: bundling.signal,
            onProgress: (p) => reporter.bundle(p),
            progressIntervalMs: ENGINE_PROGRESS_MS,
          },
          sink,
        );
      };
      result = rootfs ? await this.buildFilesystem(spec.filesystem!, rootfs, name, bundling.signal, bundle) : await bundle(source!);
    } finally {
      this.signal?.removeEventListener('abort', onAbort);
      // the engine closes what it read; an attempt that stopped before that closes it here
      await source?.close();
      await rootfs?.close();
    }
    if (bundling.signal.aborted) {
      // the abort came after the last part: nothing is published yet, so remove it all
      wipe(result);
      await sink.abort();
      throw new CancelledError('bundle job');
    }
    const { stats, facts } = result;
    this.log.info(
      {
        bundle: result.name,
        seconds: round(stats.seconds),
        parts: facts.parts.length,
        size: facts.size,
        bundledSize: facts.bundledSize,
        backend: stats.backend,
        level: stats.level,
        blocks: stats.blocks,
        sparse: stats.sparse,
        ...(stats.sparseScan !== undefined ? { sparseScan: stats.sparseScan } : {}),
      },
      'bundled',
    );
    await this.note(`bundled ${result.name}: ${facts.parts.length} parts, ${facts.bundledSize} bytes in ${round(stats.seconds)} s`);

    // fencing: publish only while this worker still holds the job (else another may be redoing it; its
    // run overwrites these parts and publishes its own manifest, so they are left alone)
    if (!(await this.holdsLock())) {
      wipe(result);
      throw new JobLockLostError(job.id ?? '');
    }
    // manifests are built for every region before any is published, then the secret is wiped
    this.publishing = true;
    reporter.stage('publishing');
    const failed = new Map(preflightFailed);
    for (const [region, err] of sink.failedRegions()) failed.set(region, err);
    const toPublish = healthy.filter((t) => sink.healthyRegions().includes(t.region));
    let manifests: Map<string, string>;
    try {
      manifests = new Map(
        toPublish.map((t) => {
          const { xml } = buildSignedManifest(
            {
              name: result.name,
              accountId,
              architecture: spec.architecture,
              ...(t.kernelId !== undefined ? { kernelId: t.kernelId } : {}),
              ...(t.ramdiskId !== undefined ? { ramdiskId: t.ramdiskId } : {}),
              ...(spec.blockDeviceMapping !== undefined ? { blockDeviceMapping: spec.blockDeviceMapping } : {}),
              ...(spec.productCodes !== undefined ? { productCodes: spec.productCodes } : {}),
            },
            facts,
            result.secret,
            identity,
            certificates.get(t.region)!,
          );
          return [t.region, xml] as const;
        }),
      );
    } catch (err) {
      await sink.abort();
      throw err;
    } finally {
      wipe(result);
    }

    const completed: Record<string, RegionResult> = { ...earlier };
    const partFiles = facts.parts.map((p) => p.filename);
    const manifestFile = manifestName(result.name);
    let published = 0;
    for (const target of toPublish) {
      // each manifest right after a lock check that succeeded: none goes up once another worker may own the job
      if (!(await this.holdsLock())) throw new JobLockLostError(job.id ?? '');
      try {
        await sink.putManifestFor(target.region, manifestFile, manifests.get(target.region)!);
      } catch (err) {
        const e = asBundlefarmError(err);
        failed.set(target.region, e);
        reporter.regionFailed(target.region);
        this.log.warn({ region: target.region, err: e }, 'manifest upload failed');
        continue;
      }
      completed[target.region] = publishedResult(target, result.name, partFiles, this.job.data.replaced?.[target.region]);
      // recorded at once: a retry (or another worker after a crash) skips this region
      await job.updateData({ ...job.data, completedRegions: { ...completed } });
      reporter.regionPublished(target.region, partFiles.length, ++published, toPublish.length);
      this.log.info({ region: target.region, bucket: target.bucket, manifestKey: completed[target.region]!.manifestKey }, 'region published');
      await this.note(`published ${target.region}: s3://${target.bucket}/${completed[target.region]!.manifestKey}`);
    }
    // deletes only while the job is still ours (self-fencing may have stopped it meanwhile)
    if (!(await this.holdsLock())) throw new JobLockLostError(job.id ?? '');
    await this.removeLeftovers(
      toPublish.filter((t) => !failed.has(t.region)),
      result.name,
      completed,
    );
    // published regions that ask for it become AMIs (each recorded at once; a failure leaves the region published)
    for (const [region, err] of await this.register(spec, completed)) failed.set(region, err);

    if (failed.size > 0) throw this.regionsFailure(spec, failed, Object.keys(completed));
    const out: BundleJobResult = {
      name: result.name,
      digest: facts.digest,
      size: facts.size,
      bundledSize: facts.bundledSize,
      parts: facts.parts.length,
      seconds: this.seconds(),
      regions: ordered(spec, completed),
      uploadRetries: this.retried.size,
    };
    await reporter.finish();
    this.log.info({ seconds: out.seconds, uploadRetries: out.uploadRetries }, 'job completed');
    return out;
  }

  /**
   * True while this worker holds the job: its lock renewed just now (a Redis round trip), and the job not
   * stopped for a lost lock (self-fencing) meanwhile. Without a token (a job run outside a BullMQ
   * worker) there is no lock to check.
   */
  private async holdsLock(): Promise<boolean> {
    if (this.signal?.aborted && this.signal.reason === LOCK_LOST_REASON) return false;
    if (this.token === undefined) return true;
    const renewed = await this.job.extendLock(this.token, this.ctx.config.lockDurationMs);
    return renewed === 1 && !(this.signal?.aborted && this.signal.reason === LOCK_LOST_REASON);
  }

  /** Every region was published by earlier attempts (e.g. the worker died before completing the job). */
  private async alreadyPublished(spec: JobSpec, earlier: Record<string, RegionResult>): Promise<BundleJobResult> {
    // regions published but not registered yet (registration failed, or the worker died): registered now, alone
    this.publishing = true;
    const unregistered = await this.register(spec, earlier);
    if (unregistered.size > 0) throw this.regionsFailure(spec, unregistered, Object.keys(earlier));
    const first = earlier[spec.regions[0]!.region]!;
    const facts = await readPublishedFacts(this.ctx.clients.forRegion(first.region), first, {
      retry: this.ctx.config.s3.retry,
      ...(this.signal ? { signal: this.signal } : {}),
    });
    const out: BundleJobResult = { ...facts, seconds: this.seconds(), regions: ordered(spec, earlier), uploadRetries: 0 };
    await this.reporter?.finish();
    this.log.info({ seconds: out.seconds }, 'job completed (every region was published by an earlier attempt)');
    return out;
  }

  /**
   * Removes stray keys of this bundle from the regions just published (see @bundlefarm/s3's bundle-leftovers.ts): this
   * job's own, and the parts of a bundle it replaced; never fails the job. What of a replaced bundle is
   * gone then is recorded in the region's result and the job.
   */
  private async removeLeftovers(published: readonly RegionTarget[], name: string, results: Record<string, RegionResult>): Promise<void> {
    const retry = this.ctx.config.s3.retry;
    await Promise.all(
      published.map(async (t) => {
        // a bundle is replaced only by a job that asked to (`replace`, under the job MAC): a `replaced` record
        // in the data of any other job (written into Redis) must not open its parts to deletion
        const replaced = this.job.data.spec.replace === true ? this.job.data.replaced?.[t.region] : undefined;
        const keep = results[t.region]?.partKeys ?? [];
        let deleted: string[] = [];
        try {
          const out = await removeLeftovers(this.ctx.clients.forRegion(t.region), t, name, keep, {
            owner: this.owner(),
            ...(replaced?.parts ? { replacedParts: replaced.parts.map((url) => keyOf(url, t.bucket)) } : {}),
            retry,
          });
          deleted = out.removed;
          if (out.removed.length > 0) this.log.info({ region: t.region, bucket: t.bucket, removed: out.removed }, 'removed leftovers of earlier attempts');
          if (out.foreign.length > 0) this.log.info({ region: t.region, bucket: t.bucket, left: out.foreign }, 'left objects named like leftovers that another writer owns');
        } catch (err) {
          // the bundle is complete and consistent; stray keys cost storage only, and the next run retries
          this.log.warn({ region: t.region, bucket: t.bucket, err: asBundlefarmError(err) }, 'could not remove leftovers of earlier attempts');
        }
        if (replaced) {
          const after = afterReplacement(replaced, t.bucket, [...keep, ...deleted]);
          results[t.region] = { ...results[t.region]!, replaced: after };
          await this.updateReplaced(t.region, after);
        }
      }),
    );
  }

  /** Registers the published regions awaiting it as AMIs (region-registration.ts); the regions that failed. */
  private async register(spec: JobSpec, results: Record<string, RegionResult>): Promise<Map<string, BundlefarmError>> {
    const waiting = awaitingRegistration(spec, results);
    if (waiting.length === 0) return new Map();
    await this.note(`registering ${waiting.map((t) => `${t.region} as ${JSON.stringify(t.register!.name)}`).join(', ')}`);
    return registerPublished(spec, results, {
      clients: this.ctx.clients,
      log: this.log,
      record: async (region, result) => {
        await this.job.updateData({ ...this.job.data, completedRegions: { ...(this.job.data.completedRegions ?? {}), [region]: result } });
        await this.note(`registered ${region}: ${result.imageId!} (${result.imageName!})`);
      },
    });
  }

  /**
   * Builds the job's ext4 image from its tree or tarball in the scratch space (stage
   * "building-filesystem"), hands it to `bundle`, and deletes it however that ends. A tarball that could
   * not be read fails the job with the read's own error (transient S3 trouble stays transient), not the
   * builder's "corrupt tarball".
   */
  private async buildFilesystem(
    fs: FilesystemSpec,
    input: RootfsInput,
    name: string,
    signal: AbortSignal,
    bundle: (image: ImageSource) => Promise<BundleResult>,
  ): Promise<BundleResult> {
    const reporter = this.reporter!;
    const { scratch } = this.ctx.config;
    let tarballRead = 0;
    reporter.filesystem({ phase: 'scanning', entries: 0, fileBytes: 0 }, 0);
    const started = performance.now();
    try {
      return await withRootfsImage(
        {
          source: input.buildSource((bytes) => (tarballRead = bytes)),
          scratchDir: scratch.dir,
          scratchLimit: scratch.maxBytes,
          ...(fs.sizeMiB !== undefined ? { size: fs.sizeMiB * 1024 * 1024 } : {}),
          partition: fs.partition,
          ...(fs.label !== undefined ? { label: fs.label } : {}),
          ...(fs.fstab === 'generate' ? { fstab: 'generate' as const } : {}),
          signal,
          onProgress: (p) =>
            reporter.filesystem(
              { phase: p.phase, entries: p.entries, fileBytes: p.fileBytes },
              p.fraction ?? (input.size ? tarballRead / input.size : undefined),
            ),
          onExclusions: (summary) => {
            if (summary.length === 0) return;
            this.log.info({ excluded: summary.map((c) => ({ class: c.id, count: c.count, examples: c.examples })) }, 'left out of the filesystem');
            void this.note(`left out of the filesystem: ${summary.map((c) => `${c.title} (${c.count})`).join('; ')}`);
          },
          onNote: (note) => this.log.debug({ note }, 'filesystem build note'),
        },
        async (built) => {
          reporter.filesystem({ phase: 'done', entries: built.entries, fileBytes: built.fileBytes }, 1);
          const seconds = round((performance.now() - started) / 1000);
          this.log.info(
            { from: fs.from, size: built.size, fsSize: built.fsSize, partition: built.partition, uuid: built.uuid, entries: built.entries, files: built.files, fileBytes: built.fileBytes, seconds },
            'filesystem built',
          );
          await this.note(`filesystem built: ext4, ${built.size} bytes (${built.partition === 'none' ? 'no partition table' : built.partition}), UUID ${built.uuid}, ${built.entries} entries in ${seconds} s`);
          return bundle(new FileImageSource(built.path, { description: `the filesystem built from ${input.description}`, defaultName: name }));
        },
      );
    } catch (err) {
      throw input.readError ?? err;
    }
  }

  /** Removes scratch directories of dead processes of this host (a killed worker's); never fails the job. */
  private async removeStaleScratch(): Promise<void> {
    try {
      const removed = await removeStaleScratch(this.ctx.config.scratch.dir);
      if (removed.length > 0) this.log.info({ removed }, 'removed scratch left by a worker that died');
    } catch (err) {
      this.log.warn({ err }, 'could not look for stale scratch');
    }
  }

  /** Takes the claim on every target (see target-claims.ts) and keeps renewing it while the attempt runs. */
  private async claimTargets(targets: RegionTarget[], name: string): Promise<void> {
    const { claims, config } = this.ctx;
    const mark = this.owner();
    const got = await claims.take(mark, targets, name, config.lockDurationMs);
    if (!got.held) throw new TargetBusyError(got.target, got.holder);
    const renew = setInterval(() => {
      claims.take(mark, targets, name, config.lockDurationMs).then(
        (again) => {
          if (!again.held) this.log.error({ target: again.target, holder: again.holder }, 'lost the claim on a target to another job');
        },
        (err: unknown) => this.log.warn({ err }, 'could not renew the claim on the targets'),
      );
    }, config.lockDurationMs / 2);
    renew.unref();
    this.claimed = { targets, name, renew };
  }

  /** Stops renewing the claims, and gives them up — unless another worker may hold the job (and them) now. */
  private async releaseTargets(): Promise<void> {
    const claimed = this.claimed;
    if (!claimed) return;
    this.claimed = undefined;
    clearInterval(claimed.renew);
    if (this.lockLost) return;
    await this.ctx.claims.release(this.owner(), claimed.targets, claimed.name).catch((err: unknown) => this.log.warn({ err }, 'could not release the claim on the targets'));
  }

  /**
   * Another job is writing to a target: this one goes back to the queue, delayed (not a failed attempt),
   * and looks again then. Nothing was written anywhere.
   */
  private async waitForTarget(busy: TargetBusyError): Promise<never> {
    if (this.token === undefined) throw toJobFailure(busy);
    const delayMs = Math.min(Math.max(1_000, this.ctx.config.lockDurationMs / 2), 15_000);
    this.log.info({ target: busy.details.target, holder: busy.details.holder, delayMs }, 'waiting: another job is writing to the target');
    await this.note(`waiting: ${busy.message}`);
    try {
      const queued: BundleJobProgress = { stage: 'queued', percent: this.percentReached(), bytesIn: 0, totalIn: 0, bytesOut: 0, partsDone: 0, regions: {} };
      await this.job.updateProgress(queued);
      await this.job.moveToDelayed(Date.now() + delayMs, this.token);
    } catch (moveErr) {
      this.log.error({ err: moveErr }, 'could not delay the job');
      throw toJobFailure(busy);
    }
    throw new DelayedError(busy.message);
  }

  /** Deletes the job's staged image, if it is one (see staged-image-cleanup.ts); never throws. */
  private async removeStagedImage(): Promise<void> {
    const a = this.authorizedImage;
    if (!a || this.ctx.config.staging === undefined) return;
    const outcome = await removeStagedImage(this.ctx.config.staging, a.image, a.principal, () => this.ctx.clients.forImages(), this.log, this.ctx.config.s3.retry);
    if (outcome === 'deleted') await this.note(`deleted the staged image ${a.image}`);
  }

  /** The job, as every object it writes carries it (`x-amz-meta-bundlefarm-job`: see jobOwner). */
  private owner(): string {
    return jobOwner(this.job.id, this.job.timestamp);
  }

  /** The sink withdrew a manifest before the region's first part: logged, and recorded when it was someone else's. */
  private async recordWithdrawal(region: string, withdrawn: WithdrawnBundle): Promise<void> {
    const whose = withdrawn.own ? 'an earlier attempt of this job' : withdrawn.owner !== undefined ? `job ${withdrawn.owner}` : 'not bundlefarm';
    this.log.info({ region, manifest: withdrawn.manifest, publishedBy: whose }, 'withdrew the published manifest before the first part');
    await this.note(`withdrew ${withdrawn.manifest} (published by ${whose}) before writing the first part`);
    if (withdrawn.own) return;
    // job.data holds it at once (for the failure's note) even should Redis not take it now
    await this.updateReplaced(region, replacedBy(this.job.data.replaced?.[region], withdrawn)).catch((err: unknown) =>
      this.log.warn({ region, err }, 'could not record the withdrawn bundle in the job'),
    );
  }

  /**
   * At the end of a failed attempt: what of each replaced bundle is gone now — earlier removals, and the
   * parts this attempt wrote over (deleted again since, or not) — recorded in the job when `record`.
   */
  private async settleReplaced(record: boolean): Promise<ReplacedBundle[]> {
    const replaced = this.job.data?.replaced ?? {};
    const out: ReplacedBundle[] = [];
    for (const t of this.job.data?.spec?.regions ?? []) {
      const r = replaced[t.region];
      if (!r) continue;
      const after = afterReplacement(r, t.bucket, await this.overwritten(t, r));
      if (record && after.removed.length !== r.removed.length) {
        await this.updateReplaced(t.region, after).catch((err: unknown) => this.log.warn({ err }, 'could not record what was replaced'));
      }
      out.push(after);
    }
    return out;
  }

  /**
   * Keys of `replaced`'s parts that this attempt sent a PUT for and that no longer hold someone else's
   * object (HeadObject: gone, or this job's own): overwritten, and deleted again or not. A part S3 cannot
   * say anything about is counted as gone.
   */
  private async overwritten(t: RegionTarget, replaced: ReplacedBundle): Promise<string[]> {
    const parts = new Set((replaced.parts ?? []).map((url) => keyOf(url, t.bucket)));
    const touched = (this.sink?.writtenKeys(t.region) ?? []).filter((k) => parts.has(k));
    const client = this.ctx.clients.forRegion(t.region);
    const owner = this.owner();
    const gone: string[] = [];
    // a few at a time: up to one bundle's parts
    for (let i = 0; i < touched.length; i += 16) {
      await Promise.all(
        touched.slice(i, i + 16).map(async (key) => {
          const found = await objectOwnership(client, t, key, { retry: { ...this.ctx.config.s3.retry, attempts: 2 } }).catch(() => undefined);
          if (!(found?.exists && found.owner !== owner)) gone.push(key);
        }),
      );
    }
    return gone;
  }

  private async updateReplaced(region: string, replaced: ReplacedBundle): Promise<void> {
    await this.job.updateData({ ...this.job.data, replaced: { ...(this.job.data.replaced ?? {}), [region]: replaced } });
  }

  /** The EC2 certificate of the region's partition: the configured one, or the shipped one. */
  private ec2Certificate(region: string): CertificateMaterial {
    const partition = partitionOfRegion(region);
    return this.ctx.config.ec2Certificates[partition] ?? ec2CertificateForPartition(partition);
  }

  /** A one-region job fails with its region's own error; otherwise RegionsFailedError names each. */
  private regionsFailure(spec: JobSpec, failed: Map<string, BundlefarmError>, published: string[]): BundlefarmError {
    if (spec.regions.length === 1 && failed.size === 1) return [...failed.values()][0]!;
    return new RegionsFailedError(failed, published);
  }

  /** Gives the job back to the queue (not a failed attempt) and tells BullMQ it is no longer ours. */
  /** The highest percent watchers have seen for the job: back in the queue, it stays (percent never goes down). */
  private percentReached(): number {
    return Math.max(earlierPercent(this.job.progress), this.reporter?.current.percent ?? 0);
  }

  private async handBack(err: unknown): Promise<never> {
    const cause = asBundlefarmError(err);
    if (this.token === undefined) throw toJobFailure(cause);
    try {
      const queued: BundleJobProgress = { stage: 'queued', percent: this.percentReached(), bytesIn: 0, totalIn: 0, bytesOut: 0, partsDone: 0, regions: {} };
      await this.job.updateProgress(queued);
      await this.job.moveToWait(this.token);
    } catch (moveErr) {
      this.log.error({ err: moveErr }, 'could not hand the job back to the queue');
      throw toJobFailure(asBundlefarmError(moveErr));
    }
    this.log.info({ seconds: this.seconds(), stoppedBy: cause.code }, 'job handed back to the queue (worker shutting down)');
    throw new WaitingError('handed back to the queue: the worker is shutting down');
  }

  /** A line in the job's BullMQ log (best effort). */
  private async note(text: string): Promise<void> {
    try {
      await this.job.log(text);
    } catch (err) {
      this.log.debug({ err }, 'job log failed');
    }
  }

  private seconds(): number {
    return round((performance.now() - this.started) / 1000);
  }
}

/** Results in the spec's region order. */
function ordered(spec: JobSpec, results: Record<string, RegionResult>): Record<string, RegionResult> {
  return Object.fromEntries(spec.regions.flatMap((r) => (results[r.region] ? [[r.region, results[r.region]!]] : [])));
}

/** Overwrites the AES key and IV in memory once they are no longer needed. */
function wipe(result: BundleResult): void {
  result.secret.key.fill(0);
  result.secret.iv.fill(0);
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
