/*
 * What a Redis connection's trouble looks like in the logs: one JSON line per reconnect attempt, with
 * its cause (`{ code, message }`: ECONNREFUSED, ETIMEDOUT, "connection closed" …) and the delay before
 * the attempt, then one line when the connection is back, saying how long it was away. No stack: a
 * refused connection is an expected condition, not a bug. ioredis emits `error` and `close` before each
 * `reconnecting`; the error is kept and reported with the attempt it caused.
 */
import type { RedisClient } from './redis-connection.js';

/** The few logger methods used (pino's shape). */
export interface ConnectionLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface RedisErrorSummary {
  code?: string;
  message: string;
}

/** Node's codes for a connection that failed or broke (not a Redis error reply). */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENOTFOUND', 'EAI_AGAIN']);

/** True for an error that says the connection to Redis failed or broke (rather than a command failing). */
export function isRedisConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== undefined && CONNECTION_CODES.has(code)) return true;
  return /^(Connection is closed|Stream isn't writeable|connect ETIMEDOUT)/.test(err.message);
}

/** `{ code, message }` of an error, on one line. */
export function summarizeRedisError(err: unknown): RedisErrorSummary {
  if (!(err instanceof Error)) return { message: String(err).split('\n')[0]! };
  const code = (err as NodeJS.ErrnoException).code;
  return { ...(typeof code === 'string' ? { code } : {}), message: err.message.split('\n')[0]! };
}

export interface ConnectionLogOptions {
  /** The connection's name in the log (`redis` field). */
  name: string;
  /** Level of the reconnect lines (default 'warn'; 'debug' for a connection whose outage another one reports). */
  level?: 'warn' | 'debug';
}

/** Logs `redis`'s reconnect attempts and recovery on `logger` (see above). Returns a function that stops it. */
export function logRedisReconnects(redis: RedisClient, logger: ConnectionLogger, options: ConnectionLogOptions): () => void {
  const level = options.level ?? 'warn';
  let cause: RedisErrorSummary | undefined;
  let attempt = 0;
  let downSince: number | undefined;
  const onError = (err: unknown): void => {
    cause = summarizeRedisError(err);
  };
  const onClose = (): void => {
    downSince ??= Date.now();
  };
  const onReconnecting = (delayMs: unknown): void => {
    attempt++;
    logger[level](
      { redis: options.name, attempt, ...(typeof delayMs === 'number' ? { delayMs } : {}), cause: cause ?? { message: 'connection closed' } },
      'Redis unreachable: reconnecting',
    );
    cause = undefined;
  };
  const onReady = (): void => {
    if (downSince !== undefined) {
      logger[level === 'warn' ? 'info' : 'debug']({ redis: options.name, attempts: attempt, downMs: Date.now() - downSince }, 'Redis connection back');
    }
    downSince = undefined;
    attempt = 0;
    cause = undefined;
  };
  redis.on('error', onError);
  redis.on('close', onClose);
  redis.on('reconnecting', onReconnecting);
  redis.on('ready', onReady);
  return () => {
    redis.off('error', onError);
    redis.off('close', onClose);
    redis.off('reconnecting', onReconnecting);
    redis.off('ready', onReady);
  };
}
