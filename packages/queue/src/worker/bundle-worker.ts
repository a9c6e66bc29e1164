/*
 * A bundle worker: a BullMQ Worker on the bundle queue running the bundle processor, plus what it
 * needs around it — one CPU pool for the process (shared by its concurrent jobs), one S3 client per
 * region, a subscriber on the cancel channel, and graceful shutdown.
 *
 * Locks: BullMQ renews a running job's lock every eighth of `lockDurationMs`, at most every quarter
 * (lockRenewTimeMs), and this worker renews them all at once when its Redis connection comes back
 * after an outage; reconnects are bounded by the lock (lockSafeReconnect): an outage of up to half
 * the lock never costs a job its lock (docs/service.md, "Redis outages and job locks"). The CPU work
 * runs on the pool's threads, so the event loop stays free to renew however big the image is; a job
 * is taken over by another worker only when this process stops renewing (it died, hung or lost Redis)
 * for `lockDurationMs`. The stalled-job check (which hands such a job to another worker) runs every
 * `lockDurationMs` too (at most every 30 s): with BullMQ's fixed 30 s default, a short lock would still
 * leave a dead worker's job waiting up to a minute. Should a renewal find the lock gone (Redis was
 * unreachable for longer than that), the job is stopped here at once, and a job never publishes a
 * manifest without first confirming it still holds the lock.
 *
 * Shutdown (`close()`): stop taking jobs; let running jobs finish for up to `shutdownGraceMs`; then stop
 * them (the sink deletes what they uploaded) and hand them back to the queue: `job.moveToWait` plus
 * BullMQ's WaitingError, so they are waiting again at once, for any worker, without a failed attempt
 * counted (a DelayedError would wait out a delay; throwing anything else would count an attempt and
 * back off; leaving them to the stalled checker would take `lockDurationMs` and count a stall). Then
 * the Redis connections, the S3 clients and the pool are closed. Bounded while Redis is away: what
 * Redis has not taken HAND_BACK_MS after the grace period (right at its end with no job running) is
 * given up — the connections are dropped and the worker stops (its jobs' locks run out and other
 * workers take them over).
 *
 * Notices (job-end-notices.ts): an attempt that ends its job — completed, failed for good,
 * cancelled — queues the job's notice before BullMQ records the end, for the API to deliver.
 *
 * Metrics (`config.metrics`): a WorkerMetrics fed by this worker's events and S3 clients, served on
 * its own port by a MetricsServer that starts before the first job is taken and stops last. Whatever
 * the metrics setting, a completed job gets `firstCompletedAt` in its data right after it completed,
 * and a later completion of the same job (a retry of a completed job) returns `repeated: true`, so
 * that neither this worker's nor the API's metrics count one job twice.
 */
import { hostname } from 'node:os';
import { WaitingError, Worker } from 'bullmq';
import type { RedisClient } from '../redis-connection.js';
import { closeSharedThreadPool, engineBackends, sharedThreadPool, type ThreadPool } from '@bundlefarm/engine';
import type { BundleJobData, BundleJobResult } from '../job-types.js';
import { MetricsServer } from '../metrics/metrics-server.js';
import { WorkerMetrics } from '../metrics/worker-metrics.js';
import { BUNDLE_QUEUE } from '../queue-settings.js';
import { createRedis, lockSafeReconnect } from '../redis-connection.js';
import { isRedisConnectionError, logRedisReconnects } from '../redis-connection-log.js';
import { CANCEL_REASON, LOCK_LOST_REASON, SHUTDOWN_REASON, createBundleProcessor, type BundleJob } from './bundle-processor.js';
import { CancelListener } from './cancel-listener.js';
import { JobEndNotices } from './job-end-notices.js';
import { LockFence } from './lock-fence.js';
import { RegionClients } from './region-clients.js';
import { trustWarnings } from './job-authorization.js';
import { TargetClaims } from './target-claims.js';
import { removeStaleScratch } from '@bundlefarm/rootfs';
import { describeWorkerConfig, type WorkerConfig } from './worker-config.js';
import { createWorkerLogger, type WorkerLogger } from './worker-logger.js';

export interface BundleWorkerOptions {
  /** Default: JSON lines on stdout at the configured level. */
  logger?: WorkerLogger;
  /** CPU pool (default: the process's shared pool, sized by `config.threads`, closed by `close()`). */
  pool?: ThreadPool;
  /** Worker name in Redis (CLIENT LIST) and logs (default: `hostname:pid`). */
  name?: string;
}

/** A job this worker runs, with the token its lock is held by. */
interface RunningJob {
  job: BundleJob;
  token: string | undefined;
  /** Renews the lock and stops the job's S3 writes when it cannot (see lock-fence.ts). */
  fence: LockFence | undefined;
}

/**
 * After the grace period, how long stopped jobs get to end their uploads and be handed back before the
 * worker gives up on Redis and exits anyway (the sink waits up to 10 s for uploads in flight).
 */
export const HAND_BACK_MS = 12_000;

export class BundleWorker {
  private closing: Promise<void> | undefined;

  private constructor(
    readonly config: WorkerConfig,
    readonly worker: Worker<BundleJobData, BundleJobResult>,
    readonly logger: WorkerLogger,
    private readonly connection: RedisClient,
    private readonly cancelListener: CancelListener,
    private readonly clients: RegionClients,
    private readonly ownsPool: boolean,
    /** The jobs this worker is running, by id. */
    private readonly running: Map<string, RunningJob>,
    /** Prometheus metrics of this process, when configured. */
    readonly metrics: WorkerMetrics | undefined,
    private readonly metricsServer: MetricsServer | undefined,
    private readonly notices: JobEndNotices,
  ) {
    // a connection that failed is reported once per reconnect attempt by logRedisReconnects, not here
    worker.on('error', (err) => {
      if (isRedisConnectionError(err)) logger.debug({ err }, 'worker connection error');
      else logger.error({ err }, 'worker error');
    });
    worker.on('completed', (job, result) => {
      if (job.id) metrics?.jobCompleted(job.id, result);
      if (job.data?.firstCompletedAt !== undefined || result?.repeated) return;
      // a job kept in Redis only (removeOnComplete 0 removes it at once: nothing to mark then)
      job.updateData({ ...job.data, firstCompletedAt: new Date().toISOString() }).catch((err: unknown) => logger.debug({ err, jobId: job.id }, 'could not mark the job completed'));
    });
    if (metrics) {
      worker.on('active', (job) => job.id && metrics.jobStarted(job.id));
      worker.on('progress', (job, progress) => job.id && metrics.jobProgress(job.id, progress));
      worker.on('failed', (job, err) => job?.id && metrics.jobFailed(job.id, err?.message));
    }
    // another worker may run these jobs now: stop them (their uploads are removed; nothing is published)
    worker.on('lockRenewalFailed', (jobIds) => {
      for (const jobId of jobIds) this.lockLost(jobId);
    });
    // back after an outage: renew every lock at once, rather than at the next renewal tick
    let wasDown = false;
    connection.on('close', () => {
      wasDown = true;
    });
    connection.on('ready', () => {
      if (!wasDown) return;
      wasDown = false;
      this.renewLocks();
    });
  }

  private lockLost(jobId: string): void {
    if (this.worker.cancelJob(jobId, LOCK_LOST_REASON)) this.logger.error({ jobId }, 'lost the job lock: stopping the job');
  }

  /** Renews the lock of every running job now (on reconnect); a lock found gone stops its job. */
  private renewLocks(): void {
    for (const { fence } of this.running.values()) fence?.renewNow();
  }

  static async start(config: WorkerConfig, options: BundleWorkerOptions = {}): Promise<BundleWorker> {
    const logger = options.logger ?? createWorkerLogger({ level: config.logLevel });
    const name = options.name ?? `${hostname()}:${process.pid}`;
    const ownsPool = options.pool === undefined;
    const pool = options.pool ?? sharedThreadPool({ threads: config.threads });
    if (pool.threads !== config.threads) logger.warn({ threads: pool.threads, configured: config.threads }, 'the process CPU pool already existed with another size');
    const running = new Map<string, RunningJob>();
    const metrics = config.metrics ? new WorkerMetrics({ pool, slots: config.concurrency, running: () => running.size }) : undefined;
    const clients = new RegionClients(config.s3, metrics ? (client, region) => metrics.instrumentS3Client(client, region) : undefined, config.ec2);
    // bounded reconnects: a worker back from an outage renews its locks before they run out (see redis-connection.ts)
    const redisSettings = { url: config.redisUrl, ...lockSafeReconnect(config.lockDurationMs) };
    const connection = createRedis(redisSettings);
    connection.on('error', () => {}); // reported by logRedisReconnects, one line per attempt
    logRedisReconnects(connection, logger, { name: 'queue' });

    const processJob = createBundleProcessor({ config, clients, pool, logger, claims: new TargetClaims(connection, config.prefix) });
    const notices = new JobEndNotices({ redisUrl: config.redisUrl, prefix: config.prefix, macKey: config.jobMacKey, logger });
    // three declared parameters, as BullMQ passes the cancel signal only to processors that take one
    const processor = async (job: BundleJob, token: string | undefined, signal: AbortSignal | undefined): Promise<BundleJobResult> => {
      const jobId = job.id;
      // self-fencing: no S3 write for this job once its lock cannot be confirmed (see lock-fence.ts)
      const fence =
        token === undefined || jobId === undefined
          ? undefined
          : new LockFence({
              lockDurationMs: config.lockDurationMs,
              renew: async () => (await job.extendLock(token, config.lockDurationMs)) === 1,
              onFence: (unconfirmedMs) => {
                logger.error({ jobId, unconfirmedMs: Math.round(unconfirmedMs), fenceAfterMs: fence?.fenceAfterMs }, 'job lock not confirmed for too long: stopping its S3 writes (self-fencing)');
                worker.cancelJob(jobId, LOCK_LOST_REASON);
              },
              onLost: () => {
                if (worker.cancelJob(jobId, LOCK_LOST_REASON)) logger.error({ jobId }, 'lost the job lock: stopping the job');
              },
            }).start();
      if (jobId) running.set(jobId, { job, token, fence });
      const completedBefore = job.data?.firstCompletedAt !== undefined;
      let result: BundleJobResult;
      try {
        const r = await processJob(job, token, signal);
        result = completedBefore ? { ...r, repeated: true } : r;
      } catch (err) {
        if (err instanceof WaitingError && job.id) metrics?.jobHandedBack(job.id);
        // queued before BullMQ records the failure: a worker that dies in between reports it on the next attempt
        await notices.attemptFailed(job, err);
        throw err;
      } finally {
        fence?.stop();
        if (jobId) running.delete(jobId);
      }
      // a notice that cannot be queued fails the attempt (transient): the retry finds every region published
      await notices.completed(job, result);
      return result;
    };
    const worker = new Worker<BundleJobData, BundleJobResult>(BUNDLE_QUEUE, processor, {
      connection,
      prefix: config.prefix,
      name,
      concurrency: config.concurrency,
      lockDuration: config.lockDurationMs,
      lockRenewTime: lockRenewTimeMs(config.lockDurationMs),
      stalledInterval: stalledIntervalMs(config.lockDurationMs),
      autorun: false,
    });
    let cancelListener: CancelListener;
    let metricsServer: MetricsServer | undefined;
    try {
      // before any job is taken: a port that cannot be had stops the worker at start-up
      if (metrics && config.metrics) metricsServer = await MetricsServer.start(metrics.registry, config.metrics);
      cancelListener = await CancelListener.start(
        redisSettings,
        config.prefix,
        (jobId) => {
          if (worker.cancelJob(jobId, CANCEL_REASON)) logger.info({ jobId }, 'cancel requested: stopping the job');
        },
        logger,
      );
    } catch (err) {
      await worker.close(true).catch(() => {});
      // the process exits next: not while a pool thread is still loading its code (Node 20 aborts then)
      if (ownsPool) await pool.ready().then(closeSharedThreadPool).catch(() => {});
      await notices.close();
      await metricsServer?.close();
      metrics?.close();
      connection.disconnect();
      clients.destroy();
      throw err;
    }
    const bw = new BundleWorker(config, worker, logger, connection, cancelListener, clients, ownsPool, running, metrics, metricsServer, notices);
    worker.run().catch((err: unknown) => logger.error({ err }, 'worker main loop failed'));
    await worker.waitUntilReady();
    logger.info(
      { worker: name, backends: engineBackends({ sink: 's3' }), config: describeWorkerConfig(config), ...(metricsServer ? { metrics: `${metricsServer.url}/metrics` } : {}) },
      'worker started',
    );
    for (const warning of trustWarnings(config)) logger.warn(warning);
    // filesystem builds of a worker of this host that was killed (each job's start looks again)
    await removeStaleScratch(config.scratch.dir).then(
      (removed) => removed.length > 0 && logger.info({ removed }, 'removed scratch left by a worker that died'),
      (err: unknown) => logger.warn({ err }, 'could not look for stale scratch'),
    );
    return bw;
  }

  /** `http://HOST:PORT/metrics` when the worker serves metrics. */
  get metricsUrl(): string | undefined {
    return this.metricsServer ? `${this.metricsServer.url}/metrics` : undefined;
  }

  /** Ids of the jobs running now. */
  get runningJobs(): string[] {
    return [...this.running.keys()];
  }

  /**
   * Graceful shutdown (idempotent): no new jobs; running ones get `shutdownGraceMs` to finish, then
   * are stopped and handed back to the queue; then everything is closed.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const { logger, config, worker } = this;
    const started = performance.now();
    logger.info({ running: this.runningJobs, graceMs: config.shutdownGraceMs }, 'shutting down: no new jobs');
    const closed = worker.close();
    // bounded whatever Redis does: closing waits for Redis (jobs moved, connections quit), and while it
    // is unreachable that would be forever — the worker gives up on it at the deadline instead
    let deadline: NodeJS.Timeout | undefined;
    const givenUp = new Promise<void>((resolve) => {
      const giveUp = (): void => {
        logger.warn(
          { running: this.runningJobs, redis: this.connection.status },
          'shutdown deadline: Redis did not take the shutdown; exiting anyway (jobs not handed back are taken over by other workers once their locks expire)',
        );
        // pending commands fail at once, so what waits for them ends
        this.connection.disconnect();
        resolve();
      };
      const timer = setTimeout(() => {
        const running = this.running.size > 0;
        if (running) logger.warn({ running: this.runningJobs }, 'grace period over: stopping running jobs and handing them back to the queue');
        worker.cancelAllJobs(SHUTDOWN_REASON);
        // stopped jobs get HAND_BACK_MS to end their uploads and go back to the queue; with none, nothing is left to wait for
        deadline = setTimeout(giveUp, running ? HAND_BACK_MS : 0);
      }, config.shutdownGraceMs);
      const settled = (): void => {
        clearTimeout(timer);
        clearTimeout(deadline);
      };
      closed.then(settled, settled);
    });
    try {
      await Promise.race([closed, givenUp]);
    } finally {
      clearTimeout(deadline);
      await this.cancelListener.close();
      // with Redis away, closing the notices' queue would wait for it: then its connection is just dropped
      if (this.connection.status === 'ready') await this.notices.close();
      else void this.notices.close();
      if (this.connection.status === 'ready') {
        await this.connection.quit().catch(() => this.connection.disconnect());
      } else {
        this.connection.disconnect();
      }
      this.clients.destroy();
      if (this.ownsPool) await closeSharedThreadPool();
      // last: the shutdown itself can be watched
      await this.metricsServer?.close();
      this.metrics?.close();
      logger.info({ seconds: Math.round(performance.now() - started) / 1000 }, 'worker stopped');
    }
  }
}

/**
 * BullMQ's `lockRenewTime` for a lock of `lockDurationMs`: a quarter of it. BullMQ looks every half of
 * that and renews a lock last renewed more than half of that ago, so a running job's lock is renewed
 * every eighth of the lock, at most every quarter. With BullMQ's default (half the lock) a renewal could
 * come up to half a lock after the previous one: an outage of half the lock starting just then would
 * outlast the lock. Now the renewal queued during an outage of half the lock is sent on reconnecting
 * with at least a quarter of the lock left (see docs/service.md, "Redis outages and job locks").
 */
export function lockRenewTimeMs(lockDurationMs: number): number {
  return Math.max(100, Math.floor(lockDurationMs / 4));
}

/**
 * How often the stalled-job check runs: as often as a lock lasts (BullMQ's own default ratio, 30 s for
 * 30 s), capped at 30 s. A dead worker's job is then running again within about twice `lockDurationMs`.
 */
export function stalledIntervalMs(lockDurationMs: number): number {
  return Math.min(lockDurationMs, 30_000);
}

/** Starts a bundle worker (see BundleWorker). */
export function startBundleWorker(config: WorkerConfig, options: BundleWorkerOptions = {}): Promise<BundleWorker> {
  return BundleWorker.start(config, options);
}
