/*
 * Prometheus metrics of one worker process, on a registry of its own (served by metrics-server.ts when
 * the worker is configured with `metricsPort`). Everything here observes what the worker already does:
 * BullMQ's worker events (active, progress, completed, failed), the CPU pool's activity, and a
 * middleware on the process's S3 clients that sees every HTTP request they send (SDK retries included).
 *
 * Names follow Prometheus conventions (unit last, `_total` for counters, `_seconds`, `_bytes`):
 *
 * - `bundlefarm_worker_job_slots`, `bundlefarm_worker_jobs_running`: jobs this process may run at once
 *   (`concurrency`) and runs now;
 * - `bundlefarm_worker_pool_threads`, `_pool_threads_busy`, `_pool_tasks_queued`: the CPU pool now;
 *   `bundlefarm_worker_pool_busy_seconds_total`: thread-seconds spent on tasks (rate / threads = how
 *   busy the pool is over any window); `bundlefarm_worker_pool_busy_ratio`: that share over the last 30 s;
 * - `bundlefarm_worker_jobs_started_total` (attempts), `_jobs_completed_total` (each job once: a retry
 *   of a job that had completed is counted in `_jobs_recompleted_total` instead, with no bytes and no
 *   duration), `_jobs_failed_total{code}` (failed attempts), `_jobs_cancelled_total` (stopped by a
 *   user's cancel: never a failure), `_jobs_handed_back_total` (given back to the queue at shutdown);
 * - `bundlefarm_worker_job_duration_seconds`: completed jobs, first completion only;
 * - bytes per stage: `bundlefarm_worker_read_bytes_total` (image bytes read), `_compressed_bytes_total`
 *   (bundle bytes produced: compressed and encrypted), `_uploaded_bytes_total{region}` (part bytes S3
 *   accepted; a part sent to two regions counts twice);
 * - `bundlefarm_worker_part_upload_duration_seconds{region}`: each part PUT that succeeded, one HTTP
 *   request; `bundlefarm_worker_part_upload_retries_total{region}`: part PUTs sent again after a failed
 *   one (bundlefarm's retries and the SDK's); `bundlefarm_worker_s3_requests_total{operation,outcome}`:
 *   every S3 request (`ok`, `error`, `aborted`);
 * - `bundlefarm_build_info{version,node,backends}` and Node's process metrics (`bundlefarm_process_*`,
 *   `bundlefarm_nodejs_*`).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { engineBackends, type ThreadPool } from '@bundlefarm/engine';
import type { BundleJobProgress, BundleJobResult } from '../job-types.js';
import { parseFailure } from '../producer/bundle-status.js';
import { registerBuildInfo } from './build-info.js';
import { JOB_DURATION_BUCKETS } from './metric-buckets.js';

export interface WorkerMetricsOptions {
  /** The process's CPU pool. */
  pool: ThreadPool;
  /** Jobs the process runs at once (`concurrency`). */
  slots: number;
  /** Jobs running now. */
  running: () => number;
}

/** Buckets of one 10 MiB part PUT (seconds): ~0.1 s on a fast link, tens of seconds on a bad day. */
export const PART_UPLOAD_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** The window of `bundlefarm_worker_pool_busy_ratio`. */
const BUSY_WINDOW_S = 30;
/** Parts whose last PUT failed, remembered to count the next PUT of the same key as a retry. */
const MAX_FAILED_PARTS = 10_000;
const PART_KEY = /\.part\.\d+$/;

/** Bytes a job's attempt has reported so far (engine progress is cumulative). */
interface AttemptBytes {
  read: number;
  compressed: number;
  /** The attempt bundled something (an attempt that only finds every region published reads nothing). */
  bundled: boolean;
}

type Next = (args: { input: Record<string, unknown> }) => Promise<unknown>;

export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly started: Counter;
  private readonly completed: Counter;
  private readonly recompleted: Counter;
  private readonly failed: Counter<'code'>;
  private readonly cancelled: Counter;
  private readonly handedBack: Counter;
  private readonly duration: Histogram;
  private readonly readBytes: Counter;
  private readonly compressedBytes: Counter;
  private readonly uploadedBytes: Counter<'region'>;
  private readonly partDuration: Histogram<'region'>;
  private readonly partRetries: Counter<'region'>;
  private readonly s3Requests: Counter<'operation' | 'outcome'>;
  private readonly attempts = new Map<string, AttemptBytes>();
  private readonly failedParts = new Set<string>();
  /** (time s, busy thread-seconds) once a second, for the busy ratio's window. */
  private readonly samples: Array<[number, number]> = [];
  private readonly sampler: NodeJS.Timeout;

  constructor(private readonly options: WorkerMetricsOptions) {
    const registers = [this.registry];
    const { pool } = options;
    collectDefaultMetrics({ register: this.registry, prefix: 'bundlefarm_' });
    const b = engineBackends({ sink: 's3' });
    registerBuildInfo(this.registry, `deflate=${b.deflate},aes=${b.aes},holes=${b.holes}`);

    new Gauge({ name: 'bundlefarm_worker_job_slots', help: 'Jobs this worker process runs at once (concurrency)', registers }).set(options.slots);
    new Gauge({
      name: 'bundlefarm_worker_jobs_running',
      help: 'Bundle jobs this worker process is running now',
      registers,
      collect() {
        this.set(options.running());
      },
    });
    new Gauge({ name: 'bundlefarm_worker_pool_threads', help: 'Threads of the CPU pool (compression, encryption, hashing)', registers }).set(pool.threads);
    new Gauge({
      name: 'bundlefarm_worker_pool_threads_busy',
      help: 'CPU pool threads running a task now',
      registers,
      collect() {
        this.set(pool.activity.busy);
      },
    });
    new Gauge({
      name: 'bundlefarm_worker_pool_tasks_queued',
      help: 'CPU pool tasks waiting for a thread now',
      registers,
      collect() {
        this.set(pool.activity.queued);
      },
    });
    let reported = 0;
    new Counter({
      name: 'bundlefarm_worker_pool_busy_seconds_total',
      help: 'Thread-seconds the CPU pool spent running tasks (rate divided by the thread count: the share of the pool in use)',
      registers,
      collect() {
        const now = pool.activity.busySeconds;
        if (now > reported) this.inc(now - reported);
        reported = Math.max(reported, now);
      },
    });
    const samples = this.samples;
    new Gauge({
      name: 'bundlefarm_worker_pool_busy_ratio',
      help: `Share of the CPU pool's thread time spent running tasks over the last ${BUSY_WINDOW_S} s (0-1)`,
      registers,
      collect() {
        const a = pool.activity;
        const now = performance.now() / 1000;
        const first = samples[0];
        const span = first ? now - first[0] : 0;
        this.set(span >= 1 ? Math.min(1, Math.max(0, (a.busySeconds - first![1]) / (a.threads * span))) : a.busy / a.threads);
      },
    });
    this.sampler = setInterval(() => {
      samples.push([performance.now() / 1000, pool.activity.busySeconds]);
      if (samples.length > BUSY_WINDOW_S + 1) samples.shift();
    }, 1000);
    this.sampler.unref();

    this.started = new Counter({ name: 'bundlefarm_worker_jobs_started_total', help: 'Job attempts this worker started', registers });
    this.completed = new Counter({
      name: 'bundlefarm_worker_jobs_completed_total',
      help: 'Bundle jobs this worker completed (each job once, however often it is retried)',
      registers,
    });
    this.recompleted = new Counter({
      name: 'bundlefarm_worker_jobs_recompleted_total',
      help: 'Completions of jobs that had completed before (a retry of a completed job): not counted as completed again',
      registers,
    });
    this.failed = new Counter({
      name: 'bundlefarm_worker_jobs_failed_total',
      help: 'Job attempts that failed on this worker, by error code (cancels are not failures)',
      labelNames: ['code'] as const,
      registers,
    });
    this.cancelled = new Counter({ name: 'bundlefarm_worker_jobs_cancelled_total', help: 'Running jobs this worker stopped because a user cancelled them', registers });
    this.handedBack = new Counter({
      name: 'bundlefarm_worker_jobs_handed_back_total',
      help: 'Running jobs handed back to the queue because this worker was shutting down',
      registers,
    });
    this.duration = new Histogram({
      name: 'bundlefarm_worker_job_duration_seconds',
      help: 'Duration of the attempt that completed a job (first completion only)',
      buckets: JOB_DURATION_BUCKETS,
      registers,
    });
    this.readBytes = new Counter({ name: 'bundlefarm_worker_read_bytes_total', help: 'Image bytes read and bundled', registers });
    this.compressedBytes = new Counter({
      name: 'bundlefarm_worker_compressed_bytes_total',
      help: 'Bundle bytes produced (compressed and encrypted), before upload',
      registers,
    });
    this.uploadedBytes = new Counter({
      name: 'bundlefarm_worker_uploaded_bytes_total',
      help: 'Part bytes stored in S3, per target region (a part sent to two regions counts twice)',
      labelNames: ['region'] as const,
      registers,
    });
    this.partDuration = new Histogram({
      name: 'bundlefarm_worker_part_upload_duration_seconds',
      help: 'Duration of each part PUT that S3 accepted (one HTTP request)',
      labelNames: ['region'] as const,
      buckets: PART_UPLOAD_BUCKETS,
      registers,
    });
    this.partRetries = new Counter({
      name: 'bundlefarm_worker_part_upload_retries_total',
      help: 'Part PUTs sent again after a failed PUT of the same part',
      labelNames: ['region'] as const,
      registers,
    });
    this.s3Requests = new Counter({
      name: 'bundlefarm_worker_s3_requests_total',
      help: 'S3 requests this worker sent, by operation and outcome (ok, error, aborted)',
      labelNames: ['operation', 'outcome'] as const,
      registers,
    });
  }

  /** A job attempt started (BullMQ 'active'). */
  jobStarted(jobId: string): void {
    this.started.inc();
    this.attempts.set(jobId, { read: 0, compressed: 0, bundled: false });
  }

  /** A job reported progress (BullMQ 'progress'): the bytes read and produced since its last report. */
  jobProgress(jobId: string, progress: unknown): void {
    const p = progress as Partial<BundleJobProgress> | null;
    const a = this.attempts.get(jobId);
    if (!a || !p || typeof p !== 'object' || !Number.isFinite(p.bytesIn) || !Number.isFinite(p.bytesOut)) return;
    this.advance(a, p.bytesIn!, p.bytesOut!);
    if ((p.totalIn ?? 0) > 0) a.bundled = true;
  }

  /** A job completed (BullMQ 'completed'); `repeated`: it had completed before. */
  jobCompleted(jobId: string, result: BundleJobResult | undefined): void {
    const a = this.attempts.get(jobId);
    this.attempts.delete(jobId);
    if (result?.repeated) {
      this.recompleted.inc();
      return;
    }
    this.completed.inc();
    if (!result) return;
    // the last progress report may predate the last bytes: the result has the totals
    if (a?.bundled && Number.isFinite(result.size) && Number.isFinite(result.bundledSize)) this.advance(a, result.size, result.bundledSize);
    if (Number.isFinite(result.seconds)) this.duration.observe(result.seconds);
  }

  /** A job attempt failed (BullMQ 'failed'), with the failure's message (`BF_CODE: …`). */
  jobFailed(jobId: string, message: string | undefined): void {
    this.attempts.delete(jobId);
    const code = parseFailure(message)?.code ?? 'BF_JOB_FAILED';
    if (code === 'BF_CANCELLED') this.cancelled.inc();
    else this.failed.inc({ code });
  }

  /** A job was given back to the queue (worker shutdown). */
  jobHandedBack(jobId: string): void {
    this.attempts.delete(jobId);
    this.handedBack.inc();
  }

  /**
   * Observes every HTTP request `client` sends (after the SDK's retry step, so each retry is a request
   * of its own): outcome per operation; for part PUTs, the duration and bytes of those S3 accepted and
   * the retries (a PUT of a part whose previous PUT failed).
   */
  instrumentS3Client(client: S3Client, region: string): void {
    const middleware = (next: Next, context: { commandName?: string }) => async (args: { input: Record<string, unknown> }) => {
      const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
      const { Bucket, Key, ContentLength } = args.input;
      const part = operation === 'PutObject' && typeof Key === 'string' && PART_KEY.test(Key) ? `${region}\0${String(Bucket)}\0${Key}` : undefined;
      if (part !== undefined && this.failedParts.delete(part)) this.partRetries.inc({ region });
      const started = performance.now();
      try {
        const out = await next(args);
        this.s3Requests.inc({ operation, outcome: 'ok' });
        if (part !== undefined) {
          this.partDuration.observe({ region }, (performance.now() - started) / 1000);
          if (typeof ContentLength === 'number') this.uploadedBytes.inc({ region }, ContentLength);
        }
        return out;
      } catch (err) {
        const aborted = (err as { name?: string } | null)?.name === 'AbortError';
        this.s3Requests.inc({ operation, outcome: aborted ? 'aborted' : 'error' });
        if (part !== undefined && !aborted) {
          if (this.failedParts.size >= MAX_FAILED_PARTS) this.failedParts.clear();
          this.failedParts.add(part);
        }
        throw err;
      }
    };
    (client.middlewareStack as unknown as { add(m: typeof middleware, o: Record<string, unknown>): void }).add(middleware, {
      step: 'deserialize',
      name: 'bundlefarmWorkerMetrics',
      priority: 'high',
    });
  }

  close(): void {
    clearInterval(this.sampler);
  }

  private advance(a: AttemptBytes, read: number, compressed: number): void {
    if (read > a.read) this.readBytes.inc(read - a.read);
    if (compressed > a.compressed) this.compressedBytes.inc(compressed - a.compressed);
    a.read = Math.max(a.read, read);
    a.compressed = Math.max(a.compressed, compressed);
  }
}
