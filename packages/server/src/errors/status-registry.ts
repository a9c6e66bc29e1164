/**
 * HTTP status of each error code: the `http` column of the one error registry
 * (packages/errors/src/error-registry.ts), like Fastify's error registry. Codes are stable, so are their
 * statuses. A code not in the registry: 503 when the error is transient (try again later), 500 otherwise.
 */
import { ERROR_REGISTRY, httpStatusOf as registryStatus } from '@bundlefarm/errors';

export const HTTP_STATUS_BY_CODE: Readonly<Record<string, number>> = Object.freeze(
  Object.fromEntries(Object.entries(ERROR_REGISTRY).map(([code, entry]) => [code, entry.http])),
);

export function httpStatusOf(code: string, transient: boolean): number {
  return registryStatus(code, transient);
}
