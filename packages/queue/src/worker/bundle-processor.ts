/**
 * The processor of bundle jobs: `(job, token, signal)` as BullMQ calls it. One attempt (BundleJobRun)
 * reads top to bottom as the pipeline; each step's detail lives in its own unit.
 *
 * 1. Check the job. The spec is validated again (producers are not trusted to have done it), the job's
 *    MAC, principal and scope are checked (job-authorization.ts) and the identity looked up: a bad
 *    spec, a job no principal vouches for or an unknown identity fails the job at once
 *    (UnrecoverableError, no retries). Every job starts by removing what killed workers of this host
 *    left in the scratch space. Regions published by an earlier attempt (`completedRegions`, checked
 *    against the spec: region-results.ts) are skipped.
 * 2. Resolve the image. The reference (s3:// or a path inside the image root — nothing outside it) is
 *    resolved and the image opened and checked (open + fstat, or HeadObject; 1 byte to 10 GiB) before
 *    any target is looked at: a missing or unusable image fails the job with nothing anywhere touched.
 *    With `filesystem`, the image is a root tree or a rootfs tarball (rootfs-source.ts), found and
 *    checked the same way, and a job that cannot fit the worker's scratch limit is refused here
 *    (BF_SCRATCH_LIMIT).
 * 3. Preflight. The job takes the claim on every remaining target (claimed-targets.ts): while another
 *    job writes a bundle of this name there, this one waits, delayed in the queue (job-requeue.ts).
 *    Each such region is then preflighted before any CPU is spent (preflight-regions.ts): a bundle of
 *    this name that someone else published there refuses the whole job (BF_BUNDLE_EXISTS) unless the
 *    spec says `replace`. A transient preflight failure fails the attempt at once (the retry bundles
 *    once for all regions); a permanent one leaves that region out: the job bundles for the others and
 *    fails in the end naming it (if every region fails, it fails right there).
 * 4. Bundle once. (`filesystem`) The ext4 image is built in the scratch space (stage
 *    "building-filesystem", filesystem-build.ts), and deleted once bundled, however the attempt ends. The image is bundled
 *    once (engine, on the process's shared pool) into one sink over all usable regions
 *    (region-publisher.ts; what it withdraws of a bundle being replaced: replaced-bundles.ts).
 * 5. Publish each region: its own signed manifest, uploaded last, each published region recorded in
 *    the job at once, then leftovers removed (region-publisher.ts). The AES key and IV live in this
 *    process's memory only, and are wiped once the manifests are built.
 * 6. Register. Published regions whose target asks for `register` are registered as AMIs
 *    (region-registration.ts), each AMI id recorded in the job at once; a region published earlier but
 *    not registered yet is only registered (never bundled again). A failed registration fails its
 *    region like a failed upload.
 * 7. Record. Some region failed → the job fails with RegionsFailedError (retried if transient); else the
 *    result (merged with earlier attempts') is returned.
 *
 * The signal (BullMQ's cancel) stops preflight and bundling, never publishing (job-cancellation.ts): a
 * shutdown hands the job back to the queue, a cancel fails it as BF_CANCELLED, a lost lock as
 * BF_JOB_LOCK_LOST — and then nothing of the job (its data, its claims, its objects) is touched any more,
 * as another worker may own it (job-lock.ts: manifests and leftover deletions only right after a lock
 * renewal that succeeded).
 */
import type { Job } from 'bullmq';
import { bundleImage, checkImageSize, type BundleResult, type ImageSource, type ThreadPool } from '@bundlefarm/engine';
import { CancelledError, KeyNotConfiguredError, type BundlefarmError } from '@bundlefarm/errors';
import { checkBundleName, ec2CertificateForPartition, normalizeAccountId, partitionOfRegion, type CertificateMaterial } from '@bundlefarm/format';
import { removeStaleScratch } from '@bundlefarm/rootfs';
import type { RetryEvent } from '@bundlefarm/s3';
import { jobSpecSchema, type JobSpec, type RegionTarget } from '../job-spec.js';
import type { BundleJobData, BundleJobResult, RegionResult } from '../job-types.js';
import { regionFailureRecord } from '../region-failures.js';
import { InvalidJobSpecError } from '../producer/producer-errors.js';
import { ClaimedTargets } from './claimed-targets.js';
import { buildFilesystem } from './filesystem-build.js';
import { resolveImage } from './image-resolver.js';
import { checkJobScope, openedImageCheck } from './job-authorization.js';
import { AttemptStop, attemptFailure, stopReason } from './job-cancellation.js';
import { toJobFailure } from './job-failure.js';
import { JobLock } from './job-lock.js';
import { handBack, waitForTarget, type JobRequeueContext } from './job-requeue.js';
import { preflightRegions } from './preflight-regions.js';
import { earlierPercent, JobProgressReporter } from './progress-reporter.js';
import type { RegionClients } from './region-clients.js';
import { RegionPublisher, wipeSecret } from './region-publisher.js';
import { awaitingRegistration, registerPublished } from './region-registration.js';
import { jobOwner, publishedEarlier, readPublishedFacts, REFUSED, replacementNote } from './region-results.js';
import { ReplacedBundles } from './replaced-bundles.js';
import { RootfsInput } from './rootfs-source.js';
import { removeStagedImage } from './staged-image-cleanup.js';
import type { TargetClaims } from './target-claims.js';
import type { WorkerConfig } from './worker-config.js';
import { RegionsFailedError, TargetBusyError } from './worker-errors.js';
import type { WorkerLogger } from './worker-logger.js';

export { CANCEL_REASON, LOCK_LOST_REASON, SHUTDOWN_REASON } from './job-cancellation.js';

export interface BundleProcessorContext {
  config: WorkerConfig;
  clients: RegionClients;
  pool: ThreadPool;
  logger: WorkerLogger;
  /** Claims on targets in Redis: one job at a time writes a bundle of a name to a bucket and prefix. */
  claims: TargetClaims;
}

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

/** The job's spec, checked; what its manifests are signed with; where it still has to be published. */
interface JobPlan {
  spec: JobSpec;
  /** The principal the job was authorized for (checkJobScope); undefined without a principals file. */
  principal: string | undefined;
  identity: NonNullable<ReturnType<WorkerConfig['identities']['get']>>;
  accountId: string;
  /** Regions published by earlier attempts (skipped). */
  earlier: Record<string, RegionResult>;
  /** Targets still to publish. */
  remaining: RegionTarget[];
  certificates: Map<string, CertificateMaterial>;
}

/** The image of the job, opened: a file or S3 object, or a tree or tarball to build a filesystem from. */
interface OpenedImage {
  source?: ImageSource;
  rootfs?: RootfsInput;
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
  /** The job passed authorization (MAC, principal, scope): only then may its staged image be deleted. */
  private authorizedImage: { image: string; principal: string | undefined } | undefined;
  private readonly lock: JobLock;
  private readonly claims: ClaimedTargets;
  private readonly replaced: ReplacedBundles;
  /** Made once the reporter is (see execute). */
  private publisher: RegionPublisher | undefined;
  /** The failure this attempt threw because regions failed, and theirs. */
  private regionFailure: { error: BundlefarmError; regions: ReadonlyMap<string, BundlefarmError> } | undefined;

  constructor(
    private readonly ctx: BundleProcessorContext,
    private readonly job: BundleJob,
    private readonly token: string | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.log = ctx.logger.child({ jobId: job.id, attempt: job.attemptsMade + 1 });
    const note = (text: string): Promise<void> => this.note(text);
    const owner = (): string => this.owner();
    this.lock = new JobLock(job, token, signal, ctx.config.lockDurationMs);
    this.claims = new ClaimedTargets(ctx.claims, owner, ctx.config.lockDurationMs, this.log);
    this.replaced = new ReplacedBundles({ job, clients: ctx.clients, retry: ctx.config.s3.retry, log: this.log, note, owner });
  }

  async run(): Promise<BundleJobResult> {
    try {
      const result = await this.execute();
      // the job ends here: its staged image (if it was uploaded) is not needed any more
      await this.removeStagedImage();
      return result;
    } catch (err) {
      await this.reporter?.close();
      if (err instanceof TargetBusyError) return await waitForTarget(this.requeue(), err, this.ctx.config.lockDurationMs);
      // a bundle this job was replacing is (partly) gone: said in the failure, and recorded in the job —
      // unless the job may be another worker's by now (its data is then that worker's to write)
      const lockLost = this.lock.settle(err);
      const replaced = await this.replaced.settle(!lockLost, (region) => this.publisher?.sink?.writtenKeys(region) ?? []);
      const stopped = stopReason(this.signal, this.publishing);
      if (stopped === 'shutdown') return await handBack(this.requeue(), err, () => this.seconds());
      const failure = attemptFailure(err, stopped, this.job.id);
      // regions failed: each recorded in the job, as data (region-failures.ts), for its status and notice
      const regionFailure = this.regionFailure;
      if (!lockLost && stopped === undefined && regionFailure !== undefined && regionFailure.error === err) await this.recordFailedRegions(regionFailure.regions);
      const seconds = this.seconds();
      if (failure instanceof CancelledError) this.log.info({ seconds }, 'job cancelled');
      else this.log.warn({ err: failure, seconds, retried: failure.transient }, 'job failed');
      const reported = replacementNote(failure, replaced);
      await this.note(`failed: ${reported.code}: ${reported.message}`);
      // failed for good (permanent, cancelled, or the last attempt): the staged image goes too
      if (!lockLost && (!reported.transient || this.job.attemptsMade + 1 >= (this.job.opts.attempts ?? 1))) await this.removeStagedImage();
      throw toJobFailure(reported);
    } finally {
      await this.claims.release(this.lock.lost);
    }
  }

  /** The pipeline: check the job → resolve the image → preflight → bundle once → publish each region → register → record. */
  private async execute(): Promise<BundleJobResult> {
    // what a killed worker of this host left in the scratch space goes first, whatever this job is
    await this.removeStaleScratch();
    const plan = await this.plan();
    const { spec, principal, earlier, remaining } = plan;
    const reporter = this.startReporter(remaining, earlier);
    if (remaining.length === 0) return this.alreadyPublished(spec, earlier);

    const stop = new AttemptStop(this.signal);
    const onRetry = (e: RetryEvent & { region?: string }): void => this.onRetry(e);
    const opened: OpenedImage = {};
    let result: BundleResult;
    let healthy: RegionTarget[];
    let preflightFailed: Map<string, BundlefarmError>;
    try {
      const name = await this.openImage(spec, principal, opened, stop.bundling, onRetry);
      // no other job writes this name to these targets meanwhile (else this one waits: TargetBusyError)
      await this.claims.take(remaining, name);
      preflightFailed = await this.preflight(spec, remaining, earlier, name, stop.bundling);
      healthy = remaining.filter((r) => !preflightFailed.has(r.region));
      result = await this.bundleOnce(spec, opened, name, healthy, stop, onRetry);
    } finally {
      stop.detach();
      // the engine closes what it read; an attempt that stopped before that closes it here
      await opened.source?.close();
      await opened.rootfs?.close();
    }
    const sink = this.publisher!.sink!;
    if (stop.bundling.aborted) {
      // the abort came after the last part: nothing is published yet, so remove it all
      wipeSecret(result);
      await sink.abort();
      throw new CancelledError('bundle job');
    }
    this.logBundled(result);
    await this.note(`bundled ${result.name}: ${result.facts.parts.length} parts, ${result.facts.bundledSize} bytes in ${round(result.stats.seconds)} s`);

    // fencing: publish only while this worker still holds the job (else another may be redoing it; its
    // run overwrites these parts and publishes its own manifest, so they are left alone)
    if (!(await this.lock.holds())) {
      wipeSecret(result);
      throw this.lock.lostError();
    }
    this.publishing = true;
    reporter.stage('publishing');
    const { completed, failed: publishFailed } = await this.publisher!.publish(result, healthy, earlier, plan);
    const failed = new Map([...preflightFailed, ...publishFailed]);
    // published regions that ask for it become AMIs (each recorded at once; a failure leaves the region published)
    for (const [region, err] of await this.register(spec, completed)) failed.set(region, err);

    if (failed.size > 0) throw this.regionsFailure(spec, failed, Object.keys(completed));
    return this.completed(spec, result, completed);
  }

  /** Checks the job (spec, authorization, identity) and sees what earlier attempts published. */
  private async plan(): Promise<JobPlan> {
    const { job } = this;
    const { config } = this.ctx;
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

    // what the previous attempt recorded of its failed regions is not this attempt's
    if (job.data.failedRegions !== undefined) await this.recordFailedRegions(undefined);
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
    return { spec, principal, identity, accountId, earlier, remaining, certificates };
  }

  /** The progress reporter of this attempt (and the publisher, which reports through it). */
  private startReporter(remaining: readonly RegionTarget[], earlier: Record<string, RegionResult>): JobProgressReporter {
    const { job } = this;
    const { config, clients } = this.ctx;
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
    this.publisher = new RegionPublisher({
      job,
      config,
      clients,
      log: this.log,
      note: (text) => this.note(text),
      owner: () => this.owner(),
      reporter,
      lock: this.lock,
      replaced: this.replaced,
    });
    return reporter;
  }

  /**
   * Resolves and opens the image (into `opened`, closed by the caller), checks it, and returns the
   * bundle's name — needed before bundling, to look for a bundle of that name (the engine derives it the
   * same way).
   */
  private async openImage(
    spec: JobSpec,
    principal: string | undefined,
    opened: OpenedImage,
    signal: AbortSignal,
    onRetry: (e: RetryEvent & { region?: string }) => void,
  ): Promise<string> {
    const { config, clients } = this.ctx;
    // the principal's image scope is checked again on the file as opened (a symlink swapped in since the check)
    const imageScope = openedImageCheck(config, principal, spec.image);
    const inputOptions = { imageRoot: config.imageRoot, clients, retry: config.s3.retry, signal, onRetry, imageScope };
    if (spec.filesystem) {
      // a tree or tarball: found, opened and checked, and refused if it cannot fit the scratch space
      opened.rootfs = await RootfsInput.open(spec.image, spec.filesystem.from, inputOptions);
      opened.rootfs.checkFits(spec.filesystem, config.scratch.maxBytes);
    } else {
      opened.source = await resolveImage(spec.image, inputOptions);
      // opened and checked before any target is looked at (the engine reads this very open source)
      checkImageSize(opened.source.description, (await opened.source.open()).size);
    }
    return checkBundleName(spec.name ?? (opened.rootfs ?? opened.source!).defaultName);
  }

  /**
   * Preflights the remaining regions (preflight-regions.ts); the regions that failed it. A transient
   * failure, or every region failing, fails the attempt here; else the others go on without them.
   */
  private async preflight(spec: JobSpec, remaining: RegionTarget[], earlier: Record<string, RegionResult>, name: string, signal: AbortSignal): Promise<Map<string, BundlefarmError>> {
    const { config, clients } = this.ctx;
    const reporter = this.reporter!;
    reporter.stage('preflight');
    const pre = await preflightRegions(remaining, clients, {
      acl: config.s3.acl,
      bundleName: name,
      owner: this.owner(),
      replace: spec.replace,
      retry: config.s3.retry,
      signal,
    });
    if (signal.aborted) throw new CancelledError('bundle job');
    this.log.info({ ms: Math.round(pre.ms), failed: [...pre.failed.keys()] }, 'preflight done');
    if ([...pre.failed.values()].some((e) => e.transient) || pre.failed.size === remaining.length) {
      throw this.regionsFailure(spec, pre.failed, Object.keys(earlier));
    }
    for (const [region, err] of pre.failed) {
      reporter.regionFailed(region);
      this.log.warn({ region, err }, 'region failed preflight; bundling for the others');
    }
    await this.note(`preflight ok: ${remaining.filter((r) => !pre.failed.has(r.region)).map((r) => r.region).join(', ')}`);
    return pre.failed;
  }

  /** Bundles the image once (building its filesystem first, with `filesystem`) into one sink over the healthy regions. */
  private async bundleOnce(
    spec: JobSpec,
    opened: OpenedImage,
    name: string,
    healthy: readonly RegionTarget[],
    stop: AttemptStop,
    onRetry: (e: RetryEvent & { region?: string }) => void,
  ): Promise<BundleResult> {
    const reporter = this.reporter!;
    const sink = this.publisher!.openSink(healthy, spec.replace, { signal: stop.bundling, abandonSignal: stop.abandon }, onRetry);
    const pool = this.ctx.pool;
    const bundle = (image: ImageSource): Promise<BundleResult> => {
      reporter.stage('bundling');
      return bundleImage(
        {
          image,
          name,
          ...(spec.level !== undefined ? { level: spec.level } : {}),
          threads: Math.min(spec.threads ?? pool.threads, pool.threads),
          pool,
          signal: stop.bundling,
          onProgress: (p) => reporter.bundle(p),
          progressIntervalMs: ENGINE_PROGRESS_MS,
        },
        sink,
      );
    };
    if (!opened.rootfs) return bundle(opened.source!);
    const building = { reporter, log: this.log, note: (text: string) => this.note(text), scratch: this.ctx.config.scratch };
    return buildFilesystem(building, spec.filesystem!, opened.rootfs, name, stop.bundling, bundle);
  }

  /** A part upload (or another S3 call) was retried: counted (part PUTs) and logged. */
  private onRetry(e: RetryEvent & { region?: string }): void {
    if (e.operation === 'PutObject' && e.key !== undefined && !e.key.endsWith('.manifest.xml')) this.retried.add(`${e.region ?? ''}\0${e.key}`);
    this.log.debug({ region: e.region, operation: e.operation, bucket: e.bucket, key: e.key, attempt: e.attempt, delayMs: e.delayMs, reason: e.reason }, 'S3 retry');
  }

  private logBundled(result: BundleResult): void {
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
  }

  /** Every region published (and registered where asked): the job's result. */
  private async completed(spec: JobSpec, result: BundleResult, completed: Record<string, RegionResult>): Promise<BundleJobResult> {
    const { facts } = result;
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
    await this.reporter!.finish();
    this.log.info({ seconds: out.seconds, uploadRetries: out.uploadRetries }, 'job completed');
    return out;
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

  /** Removes scratch directories of dead processes of this host (a killed worker's); never fails the job. */
  private async removeStaleScratch(): Promise<void> {
    try {
      const removed = await removeStaleScratch(this.ctx.config.scratch.dir);
      if (removed.length > 0) this.log.info({ removed }, 'removed scratch left by a worker that died');
    } catch (err) {
      this.log.warn({ err }, 'could not look for stale scratch');
    }
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

  /** The EC2 certificate of the region's partition: the configured one, or the shipped one. */
  private ec2Certificate(region: string): CertificateMaterial {
    const partition = partitionOfRegion(region);
    return this.ctx.config.ec2Certificates[partition] ?? ec2CertificateForPartition(partition);
  }

  /** A one-region job fails with its region's own error; otherwise RegionsFailedError names each. */
  private regionsFailure(spec: JobSpec, failed: Map<string, BundlefarmError>, published: string[]): BundlefarmError {
    const error = spec.regions.length === 1 && failed.size === 1 ? [...failed.values()][0]! : new RegionsFailedError(failed, published);
    this.regionFailure = { error, regions: failed };
    return error;
  }

  /** Records the regions that failed in the job's data (`failedRegions`), or clears the record; best effort. */
  private async recordFailedRegions(failed: ReadonlyMap<string, BundlefarmError> | undefined): Promise<void> {
    const { failedRegions: _previous, ...data } = this.job.data;
    try {
      await this.job.updateData(failed ? { ...data, failedRegions: regionFailureRecord(failed) } : data);
    } catch (err) {
      this.log.warn({ err }, 'could not record the failed regions in the job');
    }
  }

  /** What giving the job back to the queue needs (job-requeue.ts). */
  private requeue(): JobRequeueContext {
    return {
      job: this.job,
      token: this.token,
      log: this.log,
      note: (text) => this.note(text),
      // the highest percent watchers have seen for the job: back in the queue, it stays (percent never goes down)
      percentReached: () => Math.max(earlierPercent(this.job.progress), this.reporter?.current.percent ?? 0),
    };
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

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
