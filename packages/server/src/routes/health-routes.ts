import type { FastifyInstance } from 'fastify';
import type { BundleProducer } from '@bundlefarm/queue';
import { healthResponseSchema, readyResponseSchema, responseJsonSchema, type HealthResponse, type ReadyResponse } from '../openapi/api-schemas.js';
import type { ServiceMetrics } from '../metrics/service-metrics.js';

/**
 * Probes and metrics, without authentication (keep them on an internal network):
 * GET /healthz — the process serves HTTP (no Redis); GET /readyz — Redis answers PING (503 otherwise);
 * GET /metrics — Prometheus text format.
 */
export async function healthRoutes(app: FastifyInstance, producer: BundleProducer, metrics: ServiceMetrics): Promise<void> {
  app.get<{ Reply: HealthResponse }>(
    '/healthz',
    { schema: { tags: ['health'], summary: 'Liveness: the process answers (Redis not involved)', response: { 200: responseJsonSchema(healthResponseSchema) } } },
    async () => ({ ok: true }),
  );
  app.get<{ Reply: ReadyResponse }>(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: Redis answers PING',
        response: { 200: responseJsonSchema(readyResponseSchema), 503: responseJsonSchema(readyResponseSchema) },
      },
    },
    async (_request, reply) => {
      try {
        await producer.ping();
        return { ok: true, redis: 'up' };
      } catch {
        return reply.code(503).send({ ok: false, redis: 'down' });
      }
    },
  );
  app.get(
    '/metrics',
    { schema: { tags: ['health'], summary: 'Prometheus metrics', produces: ['text/plain'] } },
    async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    },
  );
}
