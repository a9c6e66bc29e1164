import { z } from 'zod';
import { InvalidOptionError } from '@bundlefarm/errors';
import { DEFAULT_EVENTS_MAX_LEN, type JobPolicy } from '../queue-settings.js';
import { parseRedisUrl, queuePrefixProblem, redisUrlSchema, resolveQueuePrefix } from '../redis-url.js';
import { queuePrefixSchema, SERVICE_DEFAULTS } from '../service-settings.js';
import type { S3Settings } from '@bundlefarm/s3';

export type { S3Settings };

/** What the producer checks about an image before queueing it (see `checkImage`). */
export interface ProducerImageCheck {
  /** The workers' local image root as mounted here (unset: local images are not checked). */
  imageRoot?: string;
  /** How to reach S3 for HeadObject on s3:// images (unset: S3 images are not checked). */
  s3?: S3Settings;
  /** Gives up on S3 after this many ms and lets the job through (default 5 000). */
  s3TimeoutMs?: number;
}

/** Options of a BundleProducer. Checked with zod when the producer is made. */
export interface BundleProducerOptions {
  /** redis://[:password@]host:port[/db], rediss://…, or redis+sentinel://… (redis-url.ts; default redis://127.0.0.1:6379). */
  redisUrl?: string;
  /** Key prefix of the queue (default "bundlefarm"; with Redis Cluster a hash tag such as "{bundlefarm}"). */
  prefix?: string;
  /** Attempts, backoff and trimming of new jobs (default: `jobOptions()`'s). */
  jobPolicy?: JobPolicy;
  /** Enqueue-time checks of images (default: none; see ImageCheckOptions). */
  imageCheck?: ProducerImageCheck;
  /**
   * Seconds a job id or webhook body stays remembered after its job was made, so a replay finds the
   * job even once BullMQ trimmed it (default 30 days, 1 s to 1 year).
   */
  replayTtlSeconds?: number;
  /** Milliseconds a Redis command may take before it fails as unavailable (default 5 000). */
  commandTimeoutMs?: number;
  /**
   * Replicas that must have a new job before the enqueue succeeds (Redis `WAIT n timeout` after the add;
   * 0–16). Default: 1 with a redis+sentinel:// URL (a job the API accepted survives a failover), 0
   * otherwise; must be 0 with redis+cluster://. Fewer acknowledgements within `waitReplicasTimeoutMs`: QueueUnavailableError (HTTP 503) —
   * the job may exist, so a client retries with the same Idempotency-Key.
   */
  waitReplicas?: number;
  /** How long an enqueue waits for `waitReplicas` acknowledgements (default 1 000 ms, 10 ms–60 s). */
  waitReplicasTimeoutMs?: number;
  /**
   * Events the queue's event stream keeps (default DEFAULT_EVENTS_MAX_LEN, 10 000). Stored in the queue's
   * meta in Redis when the producer starts, so the workers' BullMQ scripts trim to it too; every producer
   * of a queue (each API replica) must use the same value. Keep it well above the events a QueueEvents
   * reader may fall behind by (a reader that lags past the cap misses the trimmed events).
   */
  eventsMaxLen?: number;
  /**
   * Key of the job MAC (scopes/job-mac.ts), shared with the workers and never stored in Redis. Set: every
   * job gets a MAC; workers that have the key run no job without a valid one. Default: none.
   */
  jobMacKey?: Buffer;
}

export const PRODUCER_DEFAULTS = {
  redisUrl: SERVICE_DEFAULTS.redisUrl,
  prefix: SERVICE_DEFAULTS.queuePrefix,
  replayTtlSeconds: 30 * 24 * 3600,
  commandTimeoutMs: 5_000,
  waitReplicasTimeoutMs: 1_000,
  eventsMaxLen: DEFAULT_EVENTS_MAX_LEN,
} as const;

const optionsSchema = z.object({
  redisUrl: redisUrlSchema.default(PRODUCER_DEFAULTS.redisUrl),
  prefix: queuePrefixSchema.optional(),
  jobPolicy: z
    .object({
      attempts: z.number().int().min(1).max(100).optional(),
      backoffMs: z.number().int().min(0).max(3_600_000).optional(),
      keepCompleted: z.number().int().min(0).max(1_000_000).optional(),
      keepFailed: z.number().int().min(0).max(1_000_000).optional(),
    })
    .default({}),
  imageCheck: z
    .object({
      imageRoot: z.string().min(1).optional(),
      s3: z.custom<S3Settings>((v) => typeof v === 'object' && v !== null, 'must be S3 settings').optional(),
      s3TimeoutMs: z.number().int().min(100).max(120_000).optional(),
    })
    .strict()
    .default({}),
  replayTtlSeconds: z.number().int().min(1).max(366 * 24 * 3600).default(PRODUCER_DEFAULTS.replayTtlSeconds),
  commandTimeoutMs: z.number().int().min(100).max(600_000).default(PRODUCER_DEFAULTS.commandTimeoutMs),
  waitReplicas: z.number().int().min(0).max(16).optional(),
  waitReplicasTimeoutMs: z.number().int().min(10).max(60_000).default(PRODUCER_DEFAULTS.waitReplicasTimeoutMs),
  // BullMQ trims approximately (whole stream nodes of ~100 entries): fewer than 100 would mean nothing
  eventsMaxLen: z.number().int().min(100).max(10_000_000).default(PRODUCER_DEFAULTS.eventsMaxLen),
  jobMacKey: z.custom<Buffer>((v) => Buffer.isBuffer(v) && v.length >= 32, 'must be a key of at least 32 bytes').optional(),
});

export type ResolvedProducerOptions = Omit<z.output<typeof optionsSchema>, 'waitReplicas' | 'prefix'> & { waitReplicas: number; prefix: string };

export function checkProducerOptions(options: BundleProducerOptions): ResolvedProducerOptions {
  const r = optionsSchema.safeParse(options);
  if (!r.success) {
    const i = r.error.issues[0]!;
    // never echo a value: the Redis URL may hold a password
    throw new InvalidOptionError(`producer ${i.path.map(String).join('.') || 'options'}`, i.message);
  }
  const kind = parseRedisUrl(r.data.redisUrl).kind;
  const waitReplicas = r.data.waitReplicas ?? (kind === 'sentinel' ? 1 : 0);
  // WAIT answers for the node it is sent to: with a cluster, not the node that took the job
  if (kind === 'cluster' && waitReplicas > 0) throw new InvalidOptionError('producer waitReplicas', 'must be 0 with a Redis Cluster (redis+cluster://)');
  const prefixProblem = queuePrefixProblem(r.data.redisUrl, r.data.prefix);
  if (prefixProblem !== undefined) throw new InvalidOptionError('producer prefix', prefixProblem);
  return { ...r.data, waitReplicas, prefix: resolveQueuePrefix(r.data.redisUrl, r.data.prefix) };
}
