/**
 * The settings every bundlefarm service process shares — the API (server-config.ts), the worker
 * (worker/worker-config.ts), the producer (producer-options.ts) and `bundlefarm serve --local`
 * (local-service): where Redis is, the key prefix of the queue, the log level. Each has one variable
 * name, one default and one rule here, so the API and the workers accept and refuse the same values
 * (test/contracts/service-settings.test.ts holds them to that).
 *
 * | variable                  | default                  | rule |
 * |---------------------------|--------------------------|------|
 * | `BUNDLEFARM_REDIS_URL`    | `redis://127.0.0.1:6379` | what redis-url.ts parses (single, Sentinel, Cluster) |
 * | `BUNDLEFARM_QUEUE_PREFIX` | `bundlefarm` (`{bundlefarm}` with a Redis Cluster) | 1–64 of `A-Z a-z 0-9 _ . - { }`; a hash tag with a Redis Cluster |
 * | `BUNDLEFARM_LOG_LEVEL`    | `info`                   | a pino level: fatal, error, warn, info, debug, trace, silent |
 *
 * Why the prefix has no `:`: BullMQ itself would take one (its scripts find the job id after the last
 * `:`), but `:` is the separator of every key under the prefix (`<prefix>:bundles:…`, the ledger, the
 * cancel channel, KEDA's list names). A prefix `bundlefarm:bundles` puts a second queue's keys inside
 * the key space of the queue with prefix `bundlefarm`, so a `SCAN bundlefarm:bundles:*`, a cleanup or an
 * autoscaler rule of one deployment takes in the other's. The API and the producer always refused it;
 * the worker now does too.
 */
import { z } from 'zod';
import { DEFAULT_PREFIX } from './queue-settings.js';
import { queuePrefixProblem } from './redis-url.js';

/** Environment variables of the shared settings, by setting. */
export const SERVICE_ENV = {
  redisUrl: 'BUNDLEFARM_REDIS_URL',
  queuePrefix: 'BUNDLEFARM_QUEUE_PREFIX',
  logLevel: 'BUNDLEFARM_LOG_LEVEL',
} as const;

/** pino's levels, most severe first; `silent` logs nothing. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export type LogLevel = (typeof LOG_LEVELS)[number];

export const SERVICE_DEFAULTS = {
  /** A Redis on this host's default port. */
  redisUrl: 'redis://127.0.0.1:6379',
  /** With a Redis Cluster URL the default is CLUSTER_DEFAULT_PREFIX (`{bundlefarm}`), see resolveQueuePrefix. */
  queuePrefix: DEFAULT_PREFIX,
  logLevel: 'info' as LogLevel,
} as const;

/** The queue prefix's alphabet and length (see the overview for why there is no `:`). */
export const QUEUE_PREFIX_PATTERN = /^[A-Za-z0-9_{}.-]{1,64}$/;

/** BUNDLEFARM_QUEUE_PREFIX, on its own; with a Redis URL see `queuePrefixIssue` (Cluster hash tag). */
export const queuePrefixSchema = z
  .string()
  .regex(QUEUE_PREFIX_PATTERN, 'must be 1-64 letters, digits, "_", ".", "-" (and a {hash tag}), e.g. bundlefarm or {bundlefarm}; not ":", which separates the keys under it');

/** BUNDLEFARM_LOG_LEVEL. */
export const logLevelSchema = z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` });

/**
 * The value of one of these variables as every process reads it: surrounding blanks dropped, and an
 * empty or blank variable is unset (the API read them so from the start; the worker took `" info"` as a
 * level it did not know).
 */
export function serviceSettingFromEnv(env: NodeJS.ProcessEnv, name: (typeof SERVICE_ENV)[keyof typeof SERVICE_ENV]): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/**
 * The rule between two settings: with a Redis Cluster the prefix needs a hash tag. For a schema's
 * superRefine: adds the issue at `path` when there is one (a bad URL is reported by its own schema).
 */
export function queuePrefixIssue(redisUrl: string, prefix: string | undefined, ctx: z.RefinementCtx, path: PropertyKey[]): void {
  const problem = queuePrefixProblem(redisUrl, prefix);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', path, message: problem });
}
