/*
 * Redis connections for BullMQ: `maxRetriesPerRequest: null` (BullMQ's requirement for blocking
 * connections), a reconnect strategy that keeps trying at a bounded pace, so that workers and the API
 * ride out a Redis restart or a network outage by themselves, and a log that says each reconnect
 * attempt once, on one JSON line, with its cause.
 *
 * Bounded reconnects (the lock argument, docs/service.md "Redis outages and job locks"): a worker
 * keeps a job only while it renews the job's lock, and it cannot renew while it is not connected. The
 * delay between two connection attempts is therefore capped (`maxReconnectDelayMs`, 1 s by default, a
 * sixteenth of the lock for workers with short locks) and so is each attempt (`connectTimeoutMs`):
 * once Redis answers again, a worker is connected within about one of each, and the renewal it queued
 * meanwhile goes out at once — not seconds later, as an exponential backoff grown during the outage
 * would have it.
 *
 * An error reply does not reconnect the connection, except READONLY (after a failover, the server
 * this connection talks to became a replica): reconnecting then finds the new master, and the command
 * is sent again. Reconnecting on every error reply, as before, made each first use of a BullMQ script
 * on a restarted Redis (NOSCRIPT, which ioredis answers by sending the script itself) cost a reconnect.
 *
 * Sentinel (redis+sentinel://…, redis-url.ts): the same options, the same bounds. Each (re)connect asks
 * the sentinels which server is master now; all sentinels unreachable is retried at the same bounded
 * pace. A dead master drops the connection; a demoted one closes its clients' connections (and answers
 * READONLY to a write meanwhile): either way the connection reconnects and finds the new master. No
 * ioredis failover detector: its subscriptions to the sentinels have no error listener of ours, and
 * would print every failed attempt while a sentinel is down.
 *
 * Cluster (redis+cluster://…): an ioredis Cluster with the same options for each node connection and
 * the same bounded pace for reconnecting to the cluster as a whole. The queue prefix then carries a
 * hash tag (redis-url.ts resolveQueuePrefix), so each of BullMQ's scripts finds all its keys in one slot.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { parseRedisUrl } from './redis-url.js';

export interface RedisSettings {
  /** redis://[:password@]host:port[/db], rediss://… or redis+sentinel://… (redis-url.ts; default redis://127.0.0.1:6379). */
  url?: string;
  /** Longest wait between two reconnect attempts (default 1 000 ms). */
  maxReconnectDelayMs?: number;
  /** Longest a connection attempt may take before it is given up and tried again (default 10 000 ms). */
  connectTimeoutMs?: number;
}

export const DEFAULT_MAX_RECONNECT_DELAY_MS = 1_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * The wait before reconnect attempt `attempt` (1, 2, …): 50 ms doubling, capped at `maxDelayMs` — a few
 * quick tries for a blip, then one try per `maxDelayMs` however long Redis stays away.
 */
export function reconnectDelayMs(attempt: number, maxDelayMs = DEFAULT_MAX_RECONNECT_DELAY_MS): number {
  return Math.min(50 * 2 ** Math.min(Math.max(attempt, 1) - 1, 10), maxDelayMs);
}

/**
 * The reconnect bounds for a worker whose job lock lasts `lockDurationMs`: a reconnect delay of at most a
 * sixteenth of the lock (1 s at most, 100 ms at least) and a connection attempt of at most a tenth of it
 * (1–10 s). Together with renewals every quarter lock (see BundleWorker) they leave a renewal room to land
 * after an outage of half the lock.
 */
export function lockSafeReconnect(lockDurationMs: number): Required<Pick<RedisSettings, 'maxReconnectDelayMs' | 'connectTimeoutMs'>> {
  return {
    maxReconnectDelayMs: Math.min(DEFAULT_MAX_RECONNECT_DELAY_MS, Math.max(100, Math.floor(lockDurationMs / 16))),
    connectTimeoutMs: Math.min(DEFAULT_CONNECT_TIMEOUT_MS, Math.max(1_000, Math.floor(lockDurationMs / 10))),
  };
}

export function redisOptions(settings: Omit<RedisSettings, 'url'> = {}): RedisOptions {
  const maxDelayMs = settings.maxReconnectDelayMs ?? DEFAULT_MAX_RECONNECT_DELAY_MS;
  return {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    connectTimeout: settings.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    retryStrategy: (times) => reconnectDelayMs(times, maxDelayMs),
    // 2: reconnect (to the new master, after a failover) and send the command again
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
  };
}

/**
 * A connection to the Redis `settings.url` names (throws RedisUrlError for a URL that names none);
 * `overrides` replace single options (the producer's fail-fast settings, a connection name).
 */
/** A connection to one Redis (directly or through Sentinel) or to a Redis Cluster. */
export type RedisClient = Redis | Cluster;

export function createRedis(settings: RedisSettings = {}, overrides: RedisOptions = {}): RedisClient {
  const target = parseRedisUrl(settings.url ?? 'redis://127.0.0.1:6379');
  const options = { ...redisOptions(settings), ...overrides };
  if (target.kind === 'standalone') return new Redis(target.url, options);
  const maxDelayMs = settings.maxReconnectDelayMs ?? DEFAULT_MAX_RECONNECT_DELAY_MS;
  if (target.kind === 'cluster') {
    return new Cluster(target.nodes, {
      redisOptions: {
        ...options,
        ...(target.username !== undefined ? { username: target.username } : {}),
        ...(target.password !== undefined ? { password: target.password } : {}),
      },
      enableReadyCheck: true,
      ...(overrides.enableOfflineQueue !== undefined ? { enableOfflineQueue: overrides.enableOfflineQueue } : {}),
      clusterRetryStrategy: (times) => reconnectDelayMs(times, maxDelayMs),
    });
  }
  return new Redis({
    ...options,
    sentinels: target.sentinels,
    name: target.name,
    db: target.db,
    ...(target.username !== undefined ? { username: target.username } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
    // every sentinel unreachable: ask them again at the same bounded pace as a reconnect
    sentinelRetryStrategy: (times) => reconnectDelayMs(times, maxDelayMs),
    failoverDetector: false,
  });
}
