import { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import {
  BUNDLE_QUEUE,
  COUNTED_STATES,
  parseFailure,
  createRedis,
  type BundleJobResult,
  type BundleProducer,
} from '@bundlefarm/queue';

/**
 * Prometheus metrics of the service, on a registry of this server's own:
 *
 * - `bundlefarm_jobs{state}`: jobs per state, read from the queue on each scrape (all API replicas
 *   report the same numbers);
 * - from the results of jobs that complete while this process watches (BullMQ QueueEvents):
 *   `bundlefarm_bytes_in_total` (image bytes), `bundlefarm_bytes_out_total` (bundle bytes uploaded, all
 *   regions), `bundlefarm_bundle_seconds` (histogram), `bundlefarm_part_upload_retries_total`,
 *   `bundlefarm_jobs_completed_total`, `bundlefarm_jobs_failed_total{code}` — every replica counts every
 *   completion, so aggregate with max(), not sum(), across replicas;
 * - `bundlefarm_queue_up`: 1 when Redis answers PING at scrape time;
 * - Node's default process metrics (`bundlefarm_process_*`, `bundlefarm_nodejs_*`).
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly events: QueueEvents;
  private readonly connection: Redis;
  private readonly bytesIn: Counter;
  private readonly bytesOut: Counter;
  private readonly seconds: Histogram;
  private readonly retries: Counter;
  private readonly completed: Counter;
  private readonly failed: Counter<'code'>;

  constructor(producer: BundleProducer, redisUrl: string) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'bundlefarm_' });
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
    this.bytesIn = new Counter({ name: 'bundlefarm_bytes_in_total', help: 'Image bytes read by completed bundle jobs', registers });
    this.bytesOut = new Counter({ name: 'bundlefarm_bytes_out_total', help: 'Bundle bytes uploaded by completed jobs, summed over regions', registers });
    this.seconds = new Histogram({
      name: 'bundlefarm_bundle_seconds',
      help: 'Duration of completed bundle jobs (seconds)',
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200],
      registers,
    });
    this.retries = new Counter({ name: 'bundlefarm_part_upload_retries_total', help: 'Part uploads that needed more than one attempt', registers });
    this.completed = new Counter({ name: 'bundlefarm_jobs_completed_total', help: 'Bundle jobs completed (seen by this process)', registers });
    this.failed = new Counter({
      name: 'bundlefarm_jobs_failed_total',
      help: 'Bundle job attempts that failed (seen by this process), by error code',
      labelNames: ['code'] as const,
      registers,
    });

    // QueueEvents needs a blocking connection of its own (XREAD BLOCK)
    this.connection = createRedis({ url: redisUrl });
    this.connection.on('error', () => {});
    this.events = new QueueEvents(BUNDLE_QUEUE, { connection: this.connection, prefix: producer.prefix });
    this.events.on('error', () => {});
    this.events.on('completed', ({ returnvalue }) => this.observeCompleted(returnvalue as BundleJobResult | null));
    this.events.on('failed', ({ failedReason }) => this.failed.inc({ code: parseFailure(failedReason)?.code ?? 'BF_JOB_FAILED' }));
  }

  /** Counts one completed job's result. */
  observeCompleted(result: BundleJobResult | null | undefined): void {
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
