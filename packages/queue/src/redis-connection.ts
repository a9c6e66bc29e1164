import { Redis, type RedisOptions } from 'ioredis';

/**
 * Redis connections for BullMQ: `maxRetriesPerRequest: null` (BullMQ's requirement for blocking
 * connections) and a reconnect strategy that keeps trying (capped backoff), so workers and the API ride
 * out a Redis restart by themselves.
 */
export interface RedisSettings {
  /** redis://[:password@]host:port[/db] (default redis://127.0.0.1:6379). */
  url?: string;
}

export function redisOptions(): RedisOptions {
  return {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(200 * 2 ** Math.min(times, 6), 5000),
    reconnectOnError: () => true,
  };
}

export function createRedis(settings: RedisSettings = {}): Redis {
  return new Redis(settings.url ?? 'redis://127.0.0.1:6379', redisOptions());
}
