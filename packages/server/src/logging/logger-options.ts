import type { FastifyServerOptions } from 'fastify';

/**
 * pino through Fastify's logger. Requests are logged by method, URL and status only (Fastify's default
 * serializers, no headers); anything that would carry a secret is redacted all the same, in case a
 * header object ever ends up in a log line.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-hub-signature-256"]',
  'req.headers["x-hub-signature"]',
  'req.headers["x-gitlab-token"]',
  'headers.authorization',
  'headers.cookie',
  'headers["x-hub-signature-256"]',
  'headers["x-hub-signature"]',
  'headers["x-gitlab-token"]',
  'authorization',
  'token',
  'password',
  'secret',
];

export function loggerOptions(level: string, stream?: NodeJS.WritableStream): FastifyServerOptions['logger'] {
  if (level === 'silent') return false;
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    ...(stream !== undefined ? { stream } : {}),
  };
}
