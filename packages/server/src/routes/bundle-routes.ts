import type { FastifyInstance, FastifyRequest } from 'fastify';
import { jobIdSchema, type BundleProducer, type Principals } from '@bundlefarm/queue';
import { principalOf, requirePrincipal } from '../auth/principals.js';
import { checkEnqueueScope, reservedJobIdProblem, visibleJob } from '../auth/job-access.js';
import { BadRequestError } from '../errors/http-errors.js';
import {
  bundleStatusSchema,
  cancelResponseSchema,
  enqueueResponseSchema,
  errorBodySchema,
  jobSpecJsonSchema,
  queueResponseSchema,
  responseJsonSchema,
  retryResponseSchema,
  type BundleStatusResponse,
  type CancelResponse,
  type EnqueueResponse,
  type ErrorBody,
  type QueueResponse,
  type RetryResponse,
} from '../openapi/api-schemas.js';
import { firstHeader } from './headers.js';

export interface BundleRoutesOptions {
  producer: BundleProducer;
  principals: Principals;
  bodyLimit: number;
}

/** Path of a job's status. */
export function statusUrl(id: string): string {
  return `/v1/bundles/${encodeURIComponent(id)}`;
}

/** Sources a client may name itself (github and gitlab are kept for verified webhooks). */
const CLIENT_SOURCE = /^(?!github$|gitlab$)[a-z0-9-]{1,32}$/;

function idempotencyKey(request: FastifyRequest): string | undefined {
  const key = firstHeader(request, 'idempotency-key');
  if (key === undefined) return undefined;
  const r = jobIdSchema.safeParse(key);
  if (!r.success) throw new BadRequestError(`Idempotency-Key ${r.error.issues[0]?.message ?? 'is not usable'} (it becomes the job id)`);
  const reserved = reservedJobIdProblem(key);
  if (reserved !== undefined) throw new BadRequestError(`Idempotency-Key ${reserved}`);
  return key;
}

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, responseJsonSchema(errorBodySchema)]));
const idParam = { type: 'object', properties: { id: { type: 'string', description: 'job id' } }, required: ['id'] };
const security = [{ bearer: [] }];

/**
 * The bundle API, behind a principal's bearer token (checked before the body is read). What a caller
 * may do is its principal's scope: a spec outside it is 403 naming each field, and only jobs the
 * principal may see exist for it (others' are 404, as if absent):
 *
 * - POST /v1/bundles — enqueue a job spec (JSON); 202 + Location, or 200 for a repeated Idempotency-Key;
 * - GET /v1/bundles/:id — state, progress, result per region, error;
 * - DELETE /v1/bundles/:id — cancel (200 removed before it started; 202 a running job is being stopped);
 * - POST /v1/bundles/:id/retry — run a failed job again (regions already published are kept);
 * - GET /v1/queue — job counts per state.
 */
export async function bundleRoutes(app: FastifyInstance, options: BundleRoutesOptions): Promise<void> {
  const { producer } = options;
  app.addHook('onRequest', requirePrincipal(options.principals));
  // JSON only: anything else is 415 (Fastify would otherwise accept text/plain as a string body)
  app.removeContentTypeParser('text/plain');

  app.post<{ Body: unknown; Reply: EnqueueResponse | ErrorBody }>(
    '/v1/bundles',
    {
      bodyLimit: options.bodyLimit,
      schema: {
        tags: ['bundles'],
        summary: 'Enqueue a bundle job',
        description:
          'Validates the job spec (every problem is reported), checks the image where its size can be known (at most 10 GiB), and queues the job. ' +
          'With an Idempotency-Key header the key is the job id: repeating the request returns the same job (200) instead of making another.',
        security,
        headers: {
          type: 'object',
          properties: {
            'idempotency-key': { type: 'string', description: 'Job id to use; a repeated key returns the existing job' },
            'x-bundlefarm-source': { type: 'string', description: 'Who enqueues (default api; e.g. cli)' },
          },
        },
        body: jobSpecJsonSchema(),
        response: {
          200: responseJsonSchema(enqueueResponseSchema),
          202: responseJsonSchema(enqueueResponseSchema),
          ...errors(400, 401, 403, 409, 413, 415, 503),
        },
      },
    },
    async (request, reply) => {
      const jobId = idempotencyKey(request);
      const source = firstHeader(request, 'x-bundlefarm-source') ?? 'api';
      if (!CLIENT_SOURCE.test(source)) throw new BadRequestError('X-Bundlefarm-Source must be 1-32 lowercase letters, digits or "-" (not github or gitlab)');
      const principal = principalOf(request);
      // scope first: nothing of an out-of-scope spec is looked at (no image check, no ledger)
      const spec = checkEnqueueScope(producer, principal, request.body);
      const r = await producer.enqueue(spec, {
        source,
        principal: principal.name,
        ...(jobId !== undefined ? { jobId } : {}),
        requireSameSpec: true,
        // the principal's endpoints hear of the job's end
        notify: principal.notify.length > 0,
      });
      if (r.imageCheck && !r.imageCheck.checked) request.log.debug({ job: r.id, reason: r.imageCheck.reason }, 'image not checked at enqueue');
      const url = statusUrl(r.id);
      request.log.info({ job: r.id, created: r.created, source, principal: principal.name }, r.created ? 'bundle job enqueued' : 'bundle job already enqueued');
      return reply
        .code(r.created ? 202 : 200)
        .header('location', url)
        .send({ id: r.id, name: r.name, created: r.created, statusUrl: url });
    },
  );

  app.get<{ Params: { id: string }; Reply: BundleStatusResponse | ErrorBody }>(
    '/v1/bundles/:id',
    {
      schema: {
        tags: ['bundles'],
        summary: "A bundle job's state, progress and result",
        security,
        params: idParam,
        response: { 200: responseJsonSchema(bundleStatusSchema), ...errors(401, 404, 503) },
      },
    },
    async (request) => visibleJob(producer, principalOf(request), request.params.id, 'see'),
  );

  app.delete<{ Params: { id: string }; Reply: CancelResponse | ErrorBody }>(
    '/v1/bundles/:id',
    {
      schema: {
        tags: ['bundles'],
        summary: 'Cancel a bundle job',
        description:
          'A job that has not started is removed (200). A running job is cancelled (202): the worker running it stops and removes what it uploaded. Finished jobs: 409.',
        security,
        params: idParam,
        response: { 200: responseJsonSchema(cancelResponseSchema), 202: responseJsonSchema(cancelResponseSchema), ...errors(401, 403, 404, 409, 503) },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      await visibleJob(producer, principal, request.params.id, 'manage');
      const r = await producer.cancel(request.params.id);
      request.log.info({ job: r.id, outcome: r.outcome, principal: principal.name }, 'bundle job cancelled');
      return reply.code(r.outcome === 'removed' ? 200 : 202).send(r);
    },
  );

  app.post<{ Params: { id: string }; Reply: RetryResponse | ErrorBody }>(
    '/v1/bundles/:id/retry',
    {
      schema: {
        tags: ['bundles'],
        summary: 'Retry a failed bundle job',
        description: 'Runs a failed job again with fresh attempts (also a completed job one of whose regions failed). Regions already published are not redone.',
        security,
        params: idParam,
        response: { 202: responseJsonSchema(retryResponseSchema), ...errors(401, 403, 404, 409, 503) },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      await visibleJob(producer, principal, request.params.id, 'manage');
      const r = await producer.retry(request.params.id);
      request.log.info({ job: r.id, kept: r.keptRegions, principal: principal.name }, 'bundle job retried');
      return reply.code(202).send(r);
    },
  );

  app.get<{ Reply: QueueResponse | ErrorBody }>(
    '/v1/queue',
    {
      schema: { tags: ['bundles'], summary: 'Job counts per state', security, response: { 200: responseJsonSchema(queueResponseSchema), ...errors(401, 503) } },
    },
    async () => ({ queue: producer.queue.name, counts: await producer.counts() }),
  );
}
