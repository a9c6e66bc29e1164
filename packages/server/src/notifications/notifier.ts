/*
 * The notifier: a BullMQ worker in the API process on the notice queue (@bundlefarm/queue
 * notify/job-notice.ts). Each notice — one per job end (JOB.STATE.RUN), queued by the worker that saw the
 * end, or by the API for a job cancelled before it started — is delivered here to each of its targets
 * (notify-targets.ts): a signed POST to each endpoint, a commit status for webhook jobs.
 *
 * - Exactly one delivery per job end: a notice exists once per end (its id), and is delivered only once
 *   the bundle job's state agrees with it — a notice queued by a worker that then died before BullMQ
 *   recorded the end waits (delayed, not a failed attempt) until the job's next attempt ends it, and is
 *   dropped as superseded if the job ends otherwise (that end has a notice of its own).
 * - Retries: a target that does not take the delivery (no 2xx) is tried again with exponential backoff
 *   (`notifyBackoffMs`, doubled, at most 10 minutes), up to `notifyAttempts` attempts; targets that took
 *   it are not sent it again. Each (notice, target) has one delivery id, the same on every attempt, so
 *   a receiver that got it but whose answer was lost can tell the retry for what it is.
 * - Recorded: each attempt's outcome is in the notice job's data (`deliveries`, by target) and a line in
 *   the bundle job's log; the endpoint is named by its host only.
 * - Trust: with a job MAC key a notice must carry a valid MAC (noticeMac), or it is not delivered.
 */
import { createHash } from 'node:crypto';
import { DelayedError, UnrecoverableError, Worker, type Job, type Queue } from 'bullmq';
import type { FastifyBaseLogger } from 'fastify';
import {
  createRedis,
  failureCode,
  NOTIFY_QUEUE,
  noticeId,
  noticeMacValid,
  type BundleJobData,
  type BundleJobResult,
  type NoticeJobData,
  type NotificationPayload,
} from '@bundlefarm/queue';
import { postCommitStatus } from './commit-status.js';
import { deliverNotification, endpointHost, type AttemptOutcome } from './notification-delivery.js';
import type { NotifyTarget, NotifyTargets } from './notify-targets.js';

export interface NotifierOptions {
  redisUrl: string;
  prefix: string;
  /** The bundle queue (to check a job's state and write its log). */
  bundles: Queue<BundleJobData, BundleJobResult>;
  /** The notice queue (to see whether a job's `queued` notice is out). */
  notices: Queue<NoticeJobData>;
  targets: NotifyTargets;
  macKey: Buffer | undefined;
  /** Attempts per notice (default 8). */
  attempts: number;
  /** First retry delay, ms (doubled each attempt, at most MAX_BACKOFF_MS). */
  backoffMs: number;
  timeoutMs: number;
  /** The API's public address, for links in commit statuses. */
  publicUrl: string | undefined;
  github: { apiUrl: string; token: string } | undefined;
  gitlab: { apiUrl: string; token: string } | undefined;
  logger: FastifyBaseLogger;
  /** Notices delivered at once (default 4). */
  concurrency?: number;
}

/** What is kept of the deliveries of a notice, by target key. */
export interface DeliveryRecord {
  delivery: string;
  /** `webhook HOST` or `github commit status` … */
  target: string;
  attempts: number;
  delivered: boolean;
  status?: number;
  reason?: string;
  at: string;
}

type NoticeJob = Job<NoticeJobData & { deliveries?: Record<string, DeliveryRecord> }>;

export const MAX_BACKOFF_MS = 10 * 60_000;
/** How long a notice waits for its job to reach the state it reports before it is given up. */
export const MAX_GATE_WAIT_MS = 24 * 3600_000;
const GATE_RECHECK_MS = 500;
/** How long a `queued` notice waits for its job to appear in the queue. */
const QUEUED_JOB_GRACE_MS = 10_000;

/** Delivery id of a notice to a target: a UUID derived from both, the same however often it is computed. */
export function deliveryId(notice: string, target: string): string {
  const h = createHash('sha256').update(`${notice}\0${target}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x80; // version 8 (name-based, custom hash)
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export class Notifier {
  private constructor(
    private readonly worker: Worker,
    private readonly connection: ReturnType<typeof createRedis>,
    private readonly log: FastifyBaseLogger,
  ) {}

  static start(options: NotifierOptions): Notifier {
    const log = options.logger.child({ component: 'notifier' });
    const connection = createRedis({ url: options.redisUrl });
    connection.on('error', () => {});
    const processor = new NoticeProcessor(options, log);
    const worker = new Worker(NOTIFY_QUEUE, (job: NoticeJob, token?: string) => processor.process(job, token), {
      connection,
      prefix: options.prefix,
      concurrency: options.concurrency ?? 4,
      settings: {
        backoffStrategy: (attemptsMade: number) => (attemptsMade >= options.attempts ? -1 : Math.min(options.backoffMs * 2 ** (attemptsMade - 1), MAX_BACKOFF_MS)),
      },
    });
    worker.on('error', (err) => log.warn({ err: { message: err.message } }, 'notifier error'));
    worker.on('failed', (job, err) => {
      if (job?.finishedOn !== undefined) log.error({ notice: job.id, reason: err.message }, 'notice given up');
    });
    return new Notifier(worker, connection, log);
  }

  async close(): Promise<void> {
    await this.worker.close();
    try {
      await this.connection.quit();
    } catch {
      this.connection.disconnect();
    }
    this.log.debug('notifier stopped');
  }
}

class NoticeProcessor {
  constructor(
    private readonly o: NotifierOptions,
    private readonly log: FastifyBaseLogger,
  ) {}

  async process(job: NoticeJob, token: string | undefined): Promise<{ deliveries: Record<string, DeliveryRecord> } | { skipped: string }> {
    const data = job.data ?? ({} as NoticeJob['data']);
    const notice = data.notice;
    if (!isNotice(notice) || job.id !== noticeId(notice.job, notice.state, notice.run)) throw new UnrecoverableError('BF_BAD_NOTICE: not a notice of this service');
    if (this.o.macKey !== undefined && !noticeMacValid(this.o.macKey, notice, data.mac)) {
      this.log.warn({ notice: job.id }, 'notice refused: its MAC is missing or wrong (written straight into Redis?)');
      throw new UnrecoverableError('BF_NOTICE_UNAUTHORIZED: the notice carries no valid MAC');
    }
    const gate = await this.gate(notice, job.timestamp);
    if (gate === 'wait') {
      if (Date.now() - job.timestamp < MAX_GATE_WAIT_MS && token !== undefined) {
        await job.moveToDelayed(Date.now() + GATE_RECHECK_MS, token);
        throw new DelayedError();
      }
      this.log.warn({ notice: job.id }, 'notice given up: its job never reached the state it reports');
      return { skipped: 'the job never reached the state the notice reports' };
    }
    if (gate === 'superseded') {
      this.log.info({ notice: job.id }, 'notice dropped: the job ended otherwise');
      return { skipped: 'superseded: the job ended otherwise' };
    }

    const targets = this.o.targets.forNotice(notice);
    const records: Record<string, DeliveryRecord> = { ...(data.deliveries ?? {}) };
    const failed: string[] = [];
    for (const target of targets) {
      const before = records[target.key];
      if (before?.delivered) continue;
      const delivery = deliveryId(job.id, target.key);
      const outcome = await this.deliver(target, notice, delivery);
      const record: DeliveryRecord = {
        delivery,
        target: describe(target),
        attempts: (before?.attempts ?? 0) + 1,
        delivered: outcome.ok,
        ...(outcome.status !== undefined ? { status: outcome.status } : {}),
        ...(outcome.reason !== undefined ? { reason: outcome.reason } : {}),
        at: new Date().toISOString(),
      };
      records[target.key] = record;
      if (!outcome.ok) failed.push(`${record.target}: ${outcome.reason ?? 'failed'}`);
      const fields = { notice: job.id, job: notice.job, event: notice.event, target: record.target, delivery, attempt: record.attempts, status: outcome.status };
      if (outcome.ok) this.log.info(fields, 'notification delivered');
      else this.log.warn({ ...fields, reason: outcome.reason }, 'notification not delivered');
      await this.jobLog(notice.job, `notification ${notice.event} to ${record.target}: ${outcome.ok ? 'delivered' : `not delivered (${outcome.reason ?? 'failed'})`}, delivery ${delivery}, attempt ${record.attempts}`);
    }
    await job.updateData({ ...data, deliveries: records });
    if (failed.length > 0) throw new Error(`BF_NOTIFY_FAILED: ${failed.join('; ')}`);
    return { deliveries: records };
  }

  /**
   * Whether the notice can go now: the bundle job is in the state it reports (or gone: trimmed, or
   * removed by a cancel before it started; or on a later run, so this run did end), and a `queued`
   * notice of the same run is out first, so a commit status ends on the final state (`queued` notices
   * themselves always go).
   */
  private async gate(notice: NotificationPayload, queuedAt: number): Promise<'deliver' | 'wait' | 'superseded'> {
    const job = await this.o.bundles.getJob(notice.job);
    // a `queued` notice is added just before its job: a moment for the job to appear (else it never was)
    if (!job && notice.state === 'queued') return Date.now() - queuedAt < QUEUED_JOB_GRACE_MS ? 'wait' : 'superseded';
    if (!job) return (await this.queuedNoticeDone(notice)) ? 'deliver' : 'wait';
    if ((job.data?.run ?? 0) !== notice.run) return 'deliver';
    // a pending status goes out even when the job has ended meanwhile: its end's status waits for it
    if (notice.state === 'queued') return 'deliver';
    const state = await job.getState();
    if (state !== 'completed' && state !== 'failed') return 'wait';
    if (!(await this.queuedNoticeDone(notice))) return 'wait';
    if (state === 'completed') return notice.state === 'completed' ? 'deliver' : 'superseded';
    if (notice.state === 'completed') return 'superseded';
    const cancelled = failureCode(job.failedReason) === 'BF_CANCELLED';
    return (notice.state === 'cancelled') === cancelled ? 'deliver' : 'superseded';
  }

  private async queuedNoticeDone(notice: NotificationPayload): Promise<boolean> {
    const queued = await this.o.notices.getJob(noticeId(notice.job, 'queued', notice.run));
    if (!queued) return true;
    const state = await queued.getState();
    return state === 'completed' || state === 'failed' || state === 'unknown';
  }

  private async deliver(target: NotifyTarget, notice: NotificationPayload, delivery: string): Promise<AttemptOutcome> {
    if (target.kind === 'webhook') return deliverNotification(target, notice, delivery, this.o.timeoutMs);
    const api = this.o[target.provider];
    if (api === undefined || notice.origin === undefined) return { ok: false, reason: `no ${target.provider} token` };
    return postCommitStatus(notice.origin, notice, {
      apiUrl: api.apiUrl,
      token: api.token,
      timeoutMs: this.o.timeoutMs,
      ...(this.o.publicUrl !== undefined ? { targetUrl: `${this.o.publicUrl}/v1/bundles/${encodeURIComponent(notice.job)}` } : {}),
    });
  }

  private async jobLog(id: string, line: string): Promise<void> {
    try {
      const job = await this.o.bundles.getJob(id);
      await job?.log(line);
    } catch (err) {
      this.log.debug({ err, job: id }, 'job log failed');
    }
  }
}

function describe(target: NotifyTarget): string {
  return target.kind === 'webhook' ? `${target.key.replace(/:\d+$/, '')} webhook ${endpointHost(target.url)}` : `${target.provider} commit status`;
}

function isNotice(n: unknown): n is NotificationPayload {
  const x = n as Partial<NotificationPayload> | null;
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof x.job === 'string' &&
    typeof x.run === 'number' &&
    ['completed', 'failed', 'cancelled', 'queued'].includes(String(x.state)) &&
    typeof x.event === 'string' &&
    typeof x.name === 'string' &&
    Array.isArray(x.regions)
  );
}
