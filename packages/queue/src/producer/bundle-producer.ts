import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { Queue, type Job } from 'bullmq';
import type { RedisClient } from '../redis-connection.js';
import { isBundlefarmError } from '@bundlefarm/errors';
import { createS3Client } from '@bundlefarm/s3';
import { cancelChannel } from '../cancel-channel.js';
import { canonicalJson } from '../canonical-json.js';
import { bundleNameSchema, validateJobSpec, type JobSpec, type SpecProblem } from '../job-spec.js';
import type { BundleJobData, BundleJobResult, JobOrigin, RegionResult } from '../job-types.js';
import { addNotice, jobNotice, NOTIFY_QUEUE, type NoticeJobData } from '../notify/job-notice.js';
import { BUNDLE_QUEUE, jobOptions } from '../queue-settings.js';
import { createRedis } from '../redis-connection.js';
import { jobMac, jobMacFields, jobMacValid } from '../scopes/job-mac.js';
import { CANCELLED_CODE, FINISHED_STATES, parseFailure, reportedState, toBundleStatus, type BundleState, type BundleStatus } from './bundle-status.js';
import { listJobs, type JobPage, type ListOptions } from './job-listing.js';
import { storedJobDataProblem, storedPrincipal } from './stored-job-data.js';
import { checkImage, type ImageCheck, type ImageCheckOptions, type S3Client } from './image-size-check.js';
import { isJobId, jobIdSchema, ledgerKey, randomJobId } from './job-ids.js';
import {
  IdempotencyConflictError,
  InvalidJobDataError,
  InvalidJobSpecError,
  JobNotFoundError,
  JobStateConflictError,
  QueueUnavailableError,
} from './producer-errors.js';
import { checkProducerOptions, type BundleProducerOptions, type ResolvedProducerOptions } from './producer-options.js';
import { PublishedCheck, type TargetCheck } from './published-check.js';

export interface EnqueueOptions {
  /** Who enqueues: api, github, gitlab, cli … (letters, digits and "-"). */
  source: string;
  /**
   * Job id to use (from an Idempotency-Key or a webhook delivery id). A job with this id that exists,
   * or existed within the replay TTL, is returned instead of adding another. Default: a random id.
   */
  jobId?: string;
  /** The webhook delivery id, kept in the job data for people reading it. */
  delivery?: string;
  /**
   * The principal enqueuing (its name). Recorded in the job; a repeated job id (Idempotency-Key) of a
   * job another principal made is a conflict, never that job.
   */
  principal?: string;
  /**
   * More values that identify the request (e.g. the SHA-256 of a webhook body): if any already made a
   * job within the replay TTL, that job is returned. Guards against a captured webhook being replayed
   * with a new delivery id.
   */
  replayKeys?: string[];
  /** Refuse (IdempotencyConflictError) when `jobId` exists with a different spec (default false). */
  requireSameSpec?: boolean;
  /** The CI event the job comes from (recorded in the job, under its MAC). */
  origin?: JobOrigin;
  /** The job has notification targets: its end is to be notified (default false). */
  notify?: boolean;
  /**
   * Queue a `queued` notice (a pending commit status) with the job — before it, so that no end of the
   * job can be notified ahead of it (default false; only with `notify`).
   */
  pendingNotice?: boolean;
}

export interface EnqueueResult {
  id: string;
  /** Bundle name, also the BullMQ job name. */
  name: string;
  /** False when the request was a replay: the job it made before is returned. */
  created: boolean;
  /** What the enqueue-time image check could see (absent for replays). */
  imageCheck?: ImageCheck;
  /** Whether every target could be looked at for a bundle already published there (absent for replays). */
  targetCheck?: TargetCheck;
}

export type CancelOutcome = 'removed' | 'cancelling';

export interface CancelResult {
  id: string;
  /** removed: it had not started and is gone; cancelling: the workers were told to stop it. */
  outcome: CancelOutcome;
  /** State the job was in when the cancel arrived. */
  previousState: BundleState;
}

export interface RetryResult {
  id: string;
  state: BundleState;
  /** Regions that will not be bundled again (published by an earlier attempt). */
  keptRegions: string[];
}

/** Jobs per state; `failed` does not count the cancelled ones, `cancelled` does. */
export type JobCounts = Record<(typeof COUNTED_STATES)[number], number>;

export const COUNTED_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed', 'cancelled'] as const;

/** Lines of a job log returned at most per call. */
export const MAX_LOG_LINES = 1000;

export interface JobLog {
  id: string;
  /** Lines from the offset asked for, oldest first. */
  lines: string[];
  /** Offset of the line after the last returned (ask from here next). */
  next: number;
  /** Lines in the log. */
  total: number;
  state: BundleState;
  finished: boolean;
}

/** Who enqueued a job and what state it is in: enough to decide who may see or manage it. */
export interface JobOwner {
  id: string;
  /** The principal recorded in the job (undefined: none, or not a name). */
  principal: string | undefined;
  state: BundleState;
}

const NOT_STARTED: readonly BundleState[] = ['waiting', 'delayed', 'prioritized', 'waiting-children'];

/**
 * Puts bundle jobs on the queue and answers questions about them: the producer side of the worker
 * contract (@bundlefarm/queue). Everything here is I/O against Redis (and a stat or HeadObject for the
 * size check); nothing blocks the event loop.
 *
 * Redis commands fail fast while Redis is unreachable (no offline queue, a command timeout), as
 * QueueUnavailableError: an HTTP client then gets a 503 at once rather than a request that hangs and
 * enqueues a job minutes later.
 */
export class BundleProducer {
  readonly prefix: string;
  readonly queue: Queue<BundleJobData, BundleJobResult>;
  /** Notices of job ends and queued webhook jobs (notify/job-notice.ts). */
  readonly notices: Queue<NoticeJobData>;
  private readonly redis: RedisClient;
  private readonly options: ResolvedProducerOptions;
  private readonly imageCheck: ImageCheckOptions;
  private readonly s3: S3Client | undefined;
  private readonly published: PublishedCheck;
  private closed = false;

  constructor(options: BundleProducerOptions = {}) {
    this.options = checkProducerOptions(options);
    this.prefix = this.options.prefix;
    this.redis = createRedis({ url: this.options.redisUrl }, {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      commandTimeout: this.options.commandTimeoutMs,
      connectionName: 'bundlefarm-producer',
    });
    // errors surface on the commands; without a listener ioredis would log each reconnect attempt
    this.redis.on('error', () => {});
    // the cap goes into the queue's meta hash at start-up, where the workers' scripts read it as well
    this.queue = new Queue<BundleJobData, BundleJobResult>(BUNDLE_QUEUE, {
      connection: this.redis,
      prefix: this.prefix,
      streams: { events: { maxLen: this.options.eventsMaxLen } },
    });
    this.queue.on('error', () => {});
    this.notices = new Queue<NoticeJobData>(NOTIFY_QUEUE, { connection: this.redis, prefix: this.prefix });
    this.notices.on('error', () => {});
    const { imageRoot, s3, s3TimeoutMs } = this.options.imageCheck;
    this.s3 = s3 ? createS3Client({ connectionTimeoutMs: 2_000, requestTimeoutMs: 5_000, maxAttempts: 2, ...s3 }) : undefined;
    this.imageCheck = {
      ...(imageRoot !== undefined ? { imageRoot } : {}),
      ...(this.s3 ? { s3: this.s3 } : {}),
      ...(s3TimeoutMs !== undefined ? { s3TimeoutMs } : {}),
    };
    this.published = new PublishedCheck(s3, s3TimeoutMs);
  }

  /**
   * Validates a spec the way `enqueue` does, without enqueuing: the zod schema, and that a bundle name
   * can be derived from the image when none is given. Throws InvalidJobSpecError naming every problem.
   */
  validate(input: unknown): JobSpec {
    const v = validateJobSpec(input);
    if (!v.ok) throw new InvalidJobSpecError(v.problems);
    const problem = nameProblem(v.spec);
    if (problem) throw new InvalidJobSpecError([problem]);
    return v.spec;
  }

  /**
   * Validates `input`, checks the image where that can be known here (ImageTooLargeError …) and that
   * no bundle of its name is published at a target (BundleExistsError, unless the spec says `replace`;
   * see published-check.ts), and adds the job — unless its id or a replay key already made one, which
   * is then returned (`created: false`).
   */
  async enqueue(input: unknown, options: EnqueueOptions): Promise<EnqueueResult> {
    const spec = this.validate(input);
    const name = bundleName(spec);
    if (!/^[a-z0-9-]{1,32}$/.test(options.source)) throw new InvalidJobSpecError([{ path: '(source)', message: 'must be 1-32 lowercase letters, digits or "-"' }]);
    if (options.jobId !== undefined && !isJobId(options.jobId)) {
      const message = jobIdSchema.safeParse(options.jobId).error?.issues[0]?.message ?? 'is not a usable job id';
      throw new InvalidJobSpecError([{ path: '(job id)', message }]);
    }
    const id = options.jobId ?? randomJobId();
    const keys = options.jobId === undefined ? [] : [this.ledger('id', id), ...(options.replayKeys ?? []).map((k) => this.ledger('replay', k))];

    // a replay costs two GETs, never a size check
    const earlier = await this.guard('look up earlier deliveries', () => this.replayed(keys, id));
    if (earlier !== undefined) return this.replay(earlier, spec, options);

    const imageCheck = await checkImage(spec.image, this.imageCheck, spec.filesystem?.from ?? 'image');
    // a bundle already published at a target is refused here when S3 says so (409), else by the worker
    const targetCheck = await this.published.check(spec, name);

    return this.guard('enqueue', async () => {
      const claimed: string[] = [];
      for (const key of keys) {
        const ok = await this.redis.set(key, id, 'EX', this.options.replayTtlSeconds, 'NX');
        if (ok === 'OK') {
          claimed.push(key);
          continue;
        }
        const holder = await this.redis.get(key);
        if (holder !== null && holder !== id) {
          // another request made a job for the same delivery meanwhile
          if (claimed.length) await this.redis.del(...claimed);
          return this.replay(holder, spec, options);
        }
      }
      const existing = await this.queue.getJob(id);
      if (existing) return this.replay(id, spec, options, existing);
      const data: BundleJobData = {
        spec,
        source: options.source,
        ...(options.delivery !== undefined ? { delivery: options.delivery } : {}),
        ...(options.principal !== undefined ? { principal: options.principal } : {}),
        ...(options.origin !== undefined ? { origin: options.origin } : {}),
        ...(options.notify === true ? { notify: true as const } : {}),
        // bound into the MAC: workers refuse a copy of the job put back into Redis long after (replay)
        issuedAt: Date.now(),
      };
      if (this.options.jobMacKey) data.mac = jobMac(this.options.jobMacKey, { id, ...data });
      if (options.pendingNotice === true && data.notify === true) {
        await addNotice(this.notices, jobNotice({ id, data, state: 'queued' }), this.options.jobMacKey);
      }
      try {
        await this.queue.add(name, data, { ...jobOptions(this.options.jobPolicy), jobId: id });
      } catch (err) {
        if (claimed.length) await this.redis.del(...claimed).catch(() => {});
        throw err;
      }
      await this.replicated(id);
      return { id, name, created: true, imageCheck, targetCheck };
    });
  }

  /** The status view of a job; JobNotFoundError when there is no such job. */
  async status(id: string): Promise<BundleStatus> {
    return this.guard('read a job', async () => {
      // The job's hash and its state are two reads: a job that fails between them would look failed
      // with no reason. Read the state on both sides of the hash and go again when it moved.
      for (let attempt = 1; ; attempt++) {
        const before = await this.queue.getJobState(id);
        const job = await this.job(id);
        const state = await job.getState();
        if (state === before || attempt === 3) {
          const problem = storedJobDataProblem(job.data);
          if (problem !== undefined) throw new InvalidJobDataError(id, problem, storedPrincipal(job.data));
          return toBundleStatus(job, state);
        }
      }
    });
  }

  /** Who enqueued the job and its state (whatever its data holds); JobNotFoundError when there is no such job. */
  async owner(id: string): Promise<JobOwner> {
    return this.guard('read a job', async () => {
      const job = await this.job(id);
      return { id, principal: storedPrincipal(job.data), state: reportedState(await job.getState(), job.failedReason) };
    });
  }

  /**
   * The job's log (what its workers noted: attempts, preflight, bundling, each region published, the
   * failure), from line `offset` on; `next` is the offset to ask from next time.
   */
  async logs(id: string, offset = 0): Promise<JobLog> {
    return this.guard('read a job log', async () => {
      const job = await this.job(id);
      const from = Math.max(0, Math.floor(offset));
      const { logs, count } = await this.queue.getJobLogs(id, from, from + MAX_LOG_LINES - 1, true);
      const state = reportedState(await job.getState(), job.failedReason);
      return { id, lines: logs, next: from + logs.length, total: count, state, finished: FINISHED_STATES.includes(state) };
    });
  }

  /** A page of jobs, newest first (see job-listing.ts); InvalidCursorError for a cursor not given out here. */
  async list(options: ListOptions = {}): Promise<JobPage> {
    return this.guard('list jobs', () => listJobs(this.queue, this.redis, options));
  }

  /**
   * Cancels a job: one that has not started is removed; a running one is cancelled by publishing its id
   * on the cancel channel, and the worker running it stops and removes what it uploaded. Finished jobs
   * cannot be cancelled (JobStateConflictError).
   */
  async cancel(id: string): Promise<CancelResult> {
    return this.guard('cancel a job', async () => {
      const job = await this.job(id);
      let state: BundleState = await job.getState();
      const previousState = state;
      if (NOT_STARTED.includes(state)) {
        // the notice first: a job removed is gone with what a notice says of it. Should a worker take the
        // job meanwhile, the notifier holds the notice until the job ends, and delivers it if it is cancelled
        if (job.data.notify === true) await addNotice(this.notices, jobNotice({ id, data: job.data, state: 'cancelled', failedReason: 'BF_CANCELLED: the job was cancelled before it started' }), this.options.jobMacKey);
        try {
          await job.remove();
          return { id, outcome: 'removed' as const, previousState };
        } catch (err) {
          // a worker took it meanwhile (it is locked now): cancel it as a running job
          state = await job.getState();
          if (state !== 'active') throw err;
        }
      }
      if (state === 'active') {
        await this.redis.publish(cancelChannel(this.prefix), id);
        return { id, outcome: 'cancelling' as const, previousState };
      }
      throw new JobStateConflictError(id, reportedState(state, job.failedReason), 'cancel');
    });
  }

  /**
   * Runs a failed job again, with a fresh set of attempts (also a completed job one of whose regions
   * failed). Regions an earlier attempt published are kept in `completedRegions`; the worker redoes
   * only the others.
   */
  async retry(id: string): Promise<RetryResult> {
    return this.guard('retry a job', async () => {
      const job = await this.job(id);
      const state = await job.getState();
      const problem = storedJobDataProblem(job.data);
      if (problem !== undefined) throw new InvalidJobDataError(id, problem, storedPrincipal(job.data));
      const failedRegions = state === 'completed' ? Object.values(job.returnvalue?.regions ?? {}).filter((r) => r.error) : [];
      if (state !== 'failed' && !(state === 'completed' && failedRegions.length > 0)) {
        throw new JobStateConflictError(id, reportedState(state, job.failedReason), 'retry');
      }
      let completed: Record<string, RegionResult> = { ...(job.data.completedRegions ?? {}) };
      if (state === 'completed') {
        for (const r of Object.values(job.returnvalue?.regions ?? {})) if (!r.error && r.manifestKey) completed[r.region] = r;
      }
      // a new run: its end is notified again (notices are one per job, state and run)
      const data: BundleJobData = { ...job.data, completedRegions: completed, run: (job.data.run ?? 0) + 1 };
      // the principal asked for this run: issued anew (workers refuse jobs past their maximum age), but
      // only a job whose MAC holds gets a new one — a retry must not vouch for data altered in Redis
      const key = this.options.jobMacKey;
      if (key && jobMacValid(key, jobMacFields(id, job.data as unknown as Record<string, unknown>), job.data.mac)) {
        data.issuedAt = Date.now();
        data.mac = jobMac(key, { id, ...data });
      }
      await job.updateData(data);
      await job.retry(state === 'completed' ? 'completed' : 'failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      completed = job.data.completedRegions ?? completed;
      return { id, state: reportedState(await job.getState(), job.failedReason), keptRegions: Object.keys(completed).sort() };
    });
  }

  /**
   * Remembers `value` under `key` (a webhook delivery, a body digest) for the replay TTL, unless
   * something is remembered there already: then that is returned and nothing changes.
   */
  async rememberOnce(key: string, value: string): Promise<string | undefined> {
    return this.guard('remember a delivery', async () => {
      const k = this.ledger('hook', key);
      if ((await this.redis.set(k, value, 'EX', this.options.replayTtlSeconds, 'NX')) === 'OK') return undefined;
      return (await this.redis.get(k)) ?? undefined;
    });
  }

  /** What `rememberOnce` keeps under `key`, if anything. */
  async recall(key: string): Promise<string | undefined> {
    return this.guard('look up a delivery', async () => (await this.redis.get(this.ledger('hook', key))) ?? undefined);
  }

  /** Jobs per state. */
  async counts(): Promise<JobCounts> {
    return this.guard('count jobs', async () => {
      const bullStates = COUNTED_STATES.filter((s) => s !== 'cancelled');
      const raw = await this.queue.getJobCounts(...bullStates);
      const counts = Object.fromEntries(COUNTED_STATES.map((s) => [s, raw[s] ?? 0])) as JobCounts;
      // cancelled jobs are failed ones to BullMQ: told apart by their failure's code (one pipelined read)
      const failed = await this.queue.getRanges(['failed'], 0, -1);
      if (failed.length > 0) {
        const pipeline = this.redis.pipeline();
        for (const id of failed) pipeline.hget(this.queue.toKey(id), 'failedReason');
        const reasons = (await pipeline.exec()) ?? [];
        counts.cancelled = reasons.filter(([, r]) => typeof r === 'string' && parseFailure(r)?.code === CANCELLED_CODE).length;
        counts.failed = Math.max(0, counts.failed - counts.cancelled);
      }
      return counts;
    });
  }

  /**
   * Resolves true once the Redis connection is ready, false after `timeoutMs` (the producer keeps
   * trying to connect in the background either way). For start-up: wait a moment, never fail.
   */
  async connected(timeoutMs = 2_000): Promise<boolean> {
    if (this.redis.status === 'ready') return true;
    return new Promise<boolean>((resolve) => {
      const done = (value: boolean): void => {
        clearTimeout(timer);
        this.redis.off('ready', onReady);
        resolve(value);
      };
      const onReady = (): void => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.redis.on('ready', onReady);
    });
  }

  /** Resolves when Redis answers PING; QueueUnavailableError otherwise. */
  async ping(): Promise<void> {
    await this.guard('ping', () => this.redis.ping());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // BullMQ's close waits for a connection that may never come (Redis down): give it a moment only
    if (this.redis.status !== 'ready') this.redis.disconnect();
    await Promise.race([Promise.all([this.queue.close().catch(() => {}), this.notices.close().catch(() => {})]), new Promise((r) => setTimeout(r, 2_000).unref())]);
    this.redis.disconnect();
    this.s3?.destroy();
    this.published.close();
  }

  private ledger(kind: 'id' | 'replay' | 'hook', value: string): string {
    return ledgerKey(this.prefix, BUNDLE_QUEUE, kind, value);
  }

  /** The id of the job an earlier request with the same keys made, if any. */
  private async replayed(keys: string[], id: string): Promise<string | undefined> {
    if (keys.length === 0) return undefined;
    if (await this.queue.getJob(id)) return id;
    for (const key of keys) {
      const holder = await this.redis.get(key);
      if (holder !== null) return holder;
    }
    return undefined;
  }

  private async replay(id: string, spec: JobSpec, options: EnqueueOptions, known?: Job<BundleJobData, BundleJobResult>): Promise<EnqueueResult> {
    const job = known ?? (await this.queue.getJob(id));
    // another principal's job is never handed out, whatever its spec
    if (job && options.principal !== undefined && job.data.principal !== options.principal) throw new IdempotencyConflictError(id);
    if (options.requireSameSpec && job && digest(job.data.spec) !== digest(spec)) throw new IdempotencyConflictError(id);
    return { id, name: job?.name ?? bundleName(spec), created: false };
  }

  /**
   * With `waitReplicas`: resolves once that many replicas have every write of this connection so far
   * (Redis WAIT), the job included; QueueUnavailableError otherwise — the job may then be on the master
   * only, and be lost if it fails now. The caller is not told the job was accepted.
   */
  private async replicated(id: string): Promise<void> {
    const { waitReplicas, waitReplicasTimeoutMs } = this.options;
    if (waitReplicas === 0) return;
    const acks = await this.redis.wait(waitReplicas, waitReplicasTimeoutMs);
    if (acks < waitReplicas) {
      throw new QueueUnavailableError(`enqueue (job ${id} reached ${acks} of ${waitReplicas} Redis replicas within ${waitReplicasTimeoutMs} ms; retry with the same Idempotency-Key)`);
    }
  }

  private async job(id: string): Promise<Job<BundleJobData, BundleJobResult>> {
    if (!isJobId(id) && !/^\d+$/.test(id)) throw new JobNotFoundError(id);
    const job = await this.queue.getJob(id);
    if (!job) throw new JobNotFoundError(id);
    return job;
  }

  /**
   * Runs a Redis operation; connection trouble becomes QueueUnavailableError, other errors pass. Nothing
   * starts while the connection is not ready (BullMQ would wait for it, and a job could be added long
   * after the caller was told it was not), and an operation that takes longer than twice the command
   * timeout is given up.
   */
  private async guard<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new QueueUnavailableError(`${operation} (the producer is closed)`);
    if (this.redis.status !== 'ready') throw new QueueUnavailableError(operation);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new QueueUnavailableError(`${operation} (no answer within ${2 * this.options.commandTimeoutMs} ms)`)), 2 * this.options.commandTimeoutMs);
    });
    try {
      return await Promise.race([fn(), timeout]);
    } catch (err) {
      if (isBundlefarmError(err)) throw err;
      if (this.redis.status !== 'ready' || isConnectionError(err)) throw new QueueUnavailableError(operation, err);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}

function isConnectionError(err: unknown): boolean {
  const e = err as { name?: unknown; message?: unknown; code?: unknown } | null;
  if (!e) return false;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  if (typeof e.code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH'].includes(e.code)) return true;
  return typeof e.message === 'string' && /Connection is closed|Stream isn't writeable|Command timed out|enableOfflineQueue/i.test(e.message);
}

/** The bundle name: the spec's, else the image's file name. */
export function bundleName(spec: JobSpec): string {
  if (spec.name !== undefined) return spec.name;
  return posix.basename(spec.image.startsWith('s3://') ? spec.image.replace(/^s3:\/\/[^/]+\//, '') : spec.image);
}

/** When no name is given, the image's file name must be a usable bundle name. */
function nameProblem(spec: JobSpec): SpecProblem | undefined {
  if (spec.name !== undefined) return undefined;
  const derived = bundleName(spec);
  const r = bundleNameSchema.safeParse(derived);
  if (r.success) return undefined;
  return {
    path: 'name',
    message: `no name is given and the image's file name ${JSON.stringify(derived)} is not a usable bundle name (${r.error.issues[0]?.message ?? 'invalid'}); give "name"`,
  };
}

function digest(spec: JobSpec): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex');
}
