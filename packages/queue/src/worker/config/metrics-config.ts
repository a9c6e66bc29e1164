/**
 * Where the worker serves `GET /metrics` (Prometheus text format: jobs running, pool threads busy, bytes
 * per stage, part upload latency, retries, build info): BUNDLEFARM_WORKER_METRICS_PORT / _HOST, else the
 * file's `metricsPort` / `metricsHost`. The page has no authentication: bind it to an internal address.
 */
import { z } from 'zod';
import { hostSchema, whole } from './config-primitives.js';

export const METRICS_ENV = {
  metricsPort: 'BUNDLEFARM_WORKER_METRICS_PORT',
  metricsHost: 'BUNDLEFARM_WORKER_METRICS_HOST',
} as const;

export interface MetricsConfig {
  /**
   * Port (default: none, no metrics server; 0–65 535, 0: any free port, logged at start-up) and the
   * address it binds to (default `127.0.0.1`; `0.0.0.0` in a container). Undefined: no metrics server.
   */
  metrics?: { host: string; port: number } | undefined;
}

export const METRICS_DEFAULTS = {
  metricsHost: '127.0.0.1',
} as const;

/** The variables (zod shape, by variable name). */
export const metricsEnvShape = {
  [METRICS_ENV.metricsPort]: z
    .string()
    .regex(/^\d{1,5}$/, 'must be a port number, 0-65535')
    .transform(Number)
    .refine((n) => n <= 65_535, 'must be a port number, 0-65535')
    .optional(),
  [METRICS_ENV.metricsHost]: hostSchema.optional(),
};

/** The file's fields (zod shape). */
export const metricsFileShape = {
  metricsPort: whole(0, 65_535).optional(),
  metricsHost: hostSchema.optional(),
};

/** The endpoint from the port and host chosen (the variable's, else the file's); none without a port. */
export function metricsEndpoint(port: number | undefined, host: string | undefined): MetricsConfig['metrics'] {
  return port === undefined ? undefined : { host: (host ?? METRICS_DEFAULTS.metricsHost).replace(/^\[(.*)\]$/, '$1'), port };
}
