import { pino, type DestinationStream, type Logger } from 'pino';
import { isBundlefarmError } from '@bundlefarm/errors';
import { isRedisConnectionError, summarizeRedisError } from '../redis-connection-log.js';
import type { LogLevel } from './worker-config.js';

/**
 * The worker's structured log (pino, JSON lines on stdout): job id, stage, timings, error codes. Never
 * key material, AES keys or IVs, PEM, passphrases, credentials or Redis passwords — nothing that holds
 * them is ever passed to it, and the usual field names are redacted as a second wall.
 */
export type WorkerLogger = Logger;

export interface WorkerLoggerOptions {
  /** Default 'info'. */
  level?: LogLevel;
  /** Default: stdout. */
  destination?: DestinationStream;
}

const REDACT = [
  'credentials',
  '*.credentials',
  'secretAccessKey',
  '*.secretAccessKey',
  'sessionToken',
  '*.sessionToken',
  'privateKey',
  '*.privateKey',
  'passphrase',
  '*.passphrase',
  'secret',
  '*.secret',
];

export function createWorkerLogger(options: WorkerLoggerOptions = {}): WorkerLogger {
  const settings = {
    name: 'bundlefarm-worker',
    level: options.level ?? 'info',
    redact: { paths: REDACT, censor: '[redacted]' },
    serializers: { err: serializeError },
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

/**
 * Errors as logged: code, message, transient and details for ours; code and message for a broken
 * connection (an expected condition, no stack); name, message and stack for others.
 */
export function serializeError(err: unknown): Record<string, unknown> {
  if (isBundlefarmError(err)) return { code: err.code, message: err.message, transient: err.transient, details: err.details };
  if (isRedisConnectionError(err)) return { type: (err as Error).name, ...summarizeRedisError(err) };
  if (err instanceof Error) return { type: err.name, message: err.message, stack: err.stack };
  return { message: String(err) };
}
