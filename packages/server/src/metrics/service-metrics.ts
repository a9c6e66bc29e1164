/**
 * Prometheus metrics of the service, on a registry of this server's own. Names follow Prometheus
 * conventions (unit last, `_total` for counters); the workers export their own (`bundlefarm_worker_*`,
 * see @bundlefarm/queue's worker-metrics.ts).
 *
 * - read from the queue at scrape time (every API replica reports the same numbers):
 *   `bundlefarm_jobs{state}` (jobs per state), `bundlefarm_queue_oldest_waiting_age_seconds` (how long
 *   the job at the head of the wait list has been in the queue since it was enqueued; 0 when none waits),
 *   `bundlefarm_queue_up` (1 when Redis answers PING);
 * - from the completions and failures this process sees while it runs (BullMQ QueueEvents):
 *   `bundlefarm_jobs_completed_total` (each job once: a retry of a job that had completed counts in
 *   `bundlefarm_jobs_recompleted_total` instead, with no bytes or duration), `bundlefarm_image_bytes_total`
 *   (image bytes of completed jobs), `bundlefarm_uploaded_bytes_total` (bundle bytes published, summed
 *   over regions), `bundlefarm_job_duration_seconds` (histogram), `bundlefarm_part_upload_retries_total`,
 *   `bundlefarm_jobs_failed_total{code}` (failed attempts), `bundlefarm_jobs_cancelled_total` (running jobs
 *   stopped by a cancel, and jobs removed before they started — never counted as failures) — every
 *   replica counts every event, so aggregate with max(), not sum(), across replicas;
 * - `bundlefarm_build_info{version,node,backends}` and Node's process metrics (`bundlefarm_process_*`,
 *   `bundlefarm_nodejs_*`).
 */
import { QueueEvents } from 'bullmq';
import type { RedisClient } from '@bundlefarm/queue';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import {
  BUNDLE_QUEUE,
  COUNTED_STATES,
  JOB_DURATION_BUCKETS,
  parseFailure,
  createRedis,
  registerBuildInfo,
  type BundleJobResult,
  type BundleProducer,
} from '@bundlefarm/queue';

/** States of jobs that have not started (BullMQ's names as in a 'removed' event's `prev`). */
const NOT_STARTED = new Set(['wait', 'waiting', 'delayed', 'prioritized', 'paused', 'waiting-children']);

export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly events: QueueEvents;
  private readonly connection: RedisClient;
  private readonly bytesIn: Counter;
  private readonly bytesOut: Counter;
  private readonly seconds: Histogram;
  private readonly retries: Counter;
  private readonly completed: Counter;
  private readonly recompleted: Counter;
  private readonly failed: Counter<'code'>;
  private readonly cancelled: Counter;

  constructor(producer: BundleProducer, redisUrl: string) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'bundlefarm_' });
    registerBuildInfo(this.registry);
    new Gauge({
      name: 'bundlefarm_queue_up',
      help: '1 when the queue (Redis) answers PING at scrape time',
      registers,
      async collect() {
        this.set(await producer.ping().then(() => 1, () => 0));
      },
    });
    new Gauge({
      name: 'bundlefarm_jobs',
      help: 'Bundle jobs per state (from the queue at scrape time)',
      labelNames: ['state'] as const,
      registers,
      async collect() {
        try {
          const counts = await producer.counts();
          for (const state of COUNTED_STATES) this.set({ state }, counts[state]);
        } catch {
          // Redis is down: keep the last values (bundlefarm_queue_up says so)
        }
      },
    });
    new Gauge({
      name: 'bundlefarm_queue_oldest_waiting_age_seconds',
      help: 'Time since the oldest waiting job was enqueued (0 when no job waits), at scrape time',
      registers,
      async collect() {
        try {
          const [oldest] = await producer.queue.getJobs(['wait'], 0, 0, true);
          this.set(oldest ? Math.max(0, (Date.now() - oldest.timestamp) / 1000) : 0);
        } catch {
          // Redis is down: keep the last value
        }
      },
    });
    this.bytesIn = new Counter({ name: 'bundlefarm_image_bytes_total', help: 'Image bytes of completed bundle jobs', registers });
    this.bytesOut = new Counter({ name: 'bundlefarm_uploaded_bytes_total', help: 'Bundle bytes published by completed jobs, summed over regions', registers });
    this.seconds = new Histogram({
      name: 'bundlefarm_job_duration_seconds',
      help: 'Duration of the attempt that completed a bundle job (first completion only)',
      buckets: JOB_DURATION_BUCKETS,
      registers,
    });
    this.retries = new Counter({ name: 'bundlefarm_part_upload_retries_total', help: 'Part uploads of completed jobs that needed more than one attempt', registers });
    this.completed = new Counter({ name: 'bundlefarm_jobs_completed_total', help: 'Bundle jobs completed (seen by this process; each job once)', registers });
    this.recompleted = new Counter({
      name: 'bundlefarm_jobs_recompleted_total',
      help: 'Completions of jobs that had completed before (a retry of a completed job; seen by this process)',
      registers,
    });
    this.failed = new Counter({
      name: 'bundlefarm_jobs_failed_total',
      help: 'Bundle job attempts that failed (seen by this process), by error code; cancels are not failures',
      labelNames: ['code'] as const,
      registers,
    });
    this.cancelled = new Counter({
      name: 'bundlefarm_jobs_cancelled_total',
      help: 'Bundle jobs cancelled (seen by this process): stopped while running, or removed before they started',
      registers,
    });

    // QueueEvents needs a blocking connection of its own (XREAD BLOCK)
    this.connection = createRedis({ url: redisUrl });
    this.connection.on('error', () => {});
    this.events = new QueueEvents(BUNDLE_QUEUE, { connection: this.connection, prefix: producer.prefix });
    this.events.on('error', () => {});
    this.events.on('completed', ({ returnvalue }) => this.observeCompleted(parseResult(returnvalue)));
    this.events.on('failed', ({ failedReason }) => this.observeFailed(failedReason));
    // a job removed while it waited (a cancel, or Bull Board's remove) never ran: it was cancelled
    this.events.on('removed', ({ prev }) => {
      if (NOT_STARTED.has(prev)) this.cancelled.inc();
    });
  }

  /** Counts one failed attempt (`BF_CODE: message`); a cancel is counted as cancelled, not failed. */
  observeFailed(failedReason: string | undefined): void {
    const code = parseFailure(failedReason)?.code ?? 'BF_JOB_FAILED';
    if (code === 'BF_CANCELLED') this.cancelled.inc();
    else this.failed.inc({ code });
  }

  /** Counts one completed job's result. */
  observeCompleted(result: BundleJobResult | null | undefined): void {
    if (result && typeof result === 'object' && result.repeated) {
      this.recompleted.inc();
      return;
    }
    this.completed.inc();
    if (!result || typeof result !== 'object') return;
    const published = Object.values(result.regions ?? {}).filter((r) => r.manifestKey !== undefined && !r.error).length;
    if (Number.isFinite(result.size)) this.bytesIn.inc(result.size);
    if (Number.isFinite(result.bundledSize)) this.bytesOut.inc(result.bundledSize * published);
    if (Number.isFinite(result.seconds)) this.seconds.observe(result.seconds);
    if (Number.isFinite(result.uploadRetries) && result.uploadRetries > 0) this.retries.inc(result.uploadRetries);
  }

  /** Resolves once the event stream is being read (so completions from now on are counted). */
  async ready(): Promise<void> {
    await this.events.waitUntilReady();
  }

  async close(): Promise<void> {
    // QueueEvents' close waits for a connection that may never come (Redis down): give it a moment only
    if (this.connection.status !== 'ready') this.connection.disconnect();
    await Promise.race([this.events.close().catch(() => {}), new Promise((r) => setTimeout(r, 2_000).unref())]);
    this.connection.disconnect();
  }
}

/** A completed event's return value: parsed by BullMQ, or still JSON text. */
function parseResult(value: unknown): BundleJobResult | null {
  if (typeof value !== 'string') return (value ?? null) as BundleJobResult | null;
  try {
    return JSON.parse(value) as BundleJobResult;
  } catch {
    return null;
  }
}
