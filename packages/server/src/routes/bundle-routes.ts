import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { jobIdSchema, type BundleProducer, type Principal, type Principals } from '@bundlefarm/queue';
import { principalOf, requirePrincipal } from '../auth/principals.js';
import { checkEnqueueScope, checkJobAccess, maxIdempotencyKeyLength, principalJobId, reservedJobIdProblem, visibleJob } from '../auth/job-access.js';
import { BadRequestError } from '../errors/http-errors.js';
import {
  bundleStatusSchema,
  cancelResponseSchema,
  enqueueResponseSchema,
  errorBodySchema,
  jobSpecJsonSchema,
  listQuerySchema,
  listResponseSchema,
  logResponseSchema,
  queueResponseSchema,
  responseJsonSchema,
  retryResponseSchema,
  type BundleStatusResponse,
  type CancelResponse,
  type EnqueueResponse,
  type ErrorBody,
  type ListResponse,
  type LogResponse,
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

/** The job id the request's Idempotency-Key makes for its principal (see principalJobId), if it has one. */
function idempotentJobId(request: FastifyRequest, principal: Principal): string | undefined {
  const key = firstHeader(request, 'idempotency-key');
  if (key === undefined) return undefined;
  const r = jobIdSchema.safeParse(key);
  if (!r.success) throw new BadRequestError(`Idempotency-Key ${r.error.issues[0]?.message ?? 'is not usable'} (it makes the job id)`);
  const reserved = reservedJobIdProblem(key);
  if (reserved !== undefined) throw new BadRequestError(`Idempotency-Key ${reserved}`);
  const id = principalJobId(principal, key);
  if (id === undefined) throw new BadRequestError(`Idempotency-Key must have at most ${maxIdempotencyKeyLength(principal)} characters (with the principal's name it makes the job id)`);
  return id;
}

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, responseJsonSchema(errorBodySchema)]));
const idParam = { type: 'object', properties: { id: { type: 'string', description: 'job id' } }, required: ['id'] };
const security = [{ bearer: [] }];

/** The query of GET /v1/bundles as clients write it (zod's input side; the route parses it with listQuerySchema). */
function listQueryJsonSchema(): Record<string, unknown> {
  const json = z.toJSONSchema(listQuerySchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

/**
 * The bundle API, behind a principal's bearer token (checked before the body is read). What a caller
 * may do is its principal's scope: a spec outside it is 403 naming each field, and only jobs the
 * principal may see exist for it (others' are 404, as if absent):
 *
 * - POST /v1/bundles — enqueue a job spec (JSON); 202 + Location, or 200 for a repeated Idempotency-Key
 *   (scoped to the principal: job-access.ts principalJobId);
 * - GET /v1/bundles?state=&limit=&cursor= — the jobs the principal may see, newest first, a page at a time;
 * - GET /v1/bundles/:id — state, progress, result per region, error (422 for a job whose data is not a job's);
 * - GET /v1/bundles/:id/logs?offset= — what the workers noted about the job, from a line on;
 * - DELETE /v1/bundles/:id — cancel (200 removed before it started; 202 a running job is being stopped);
 * - POST /v1/bundles/:id/retry — run a failed or cancelled job again (regions already published are kept);
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
          "With an Idempotency-Key header the job id is made from the key and the caller's principal (`p<length of the name>-<name>-<key>`): repeating the request returns the same job (200) instead of making another; " +
          "another principal's use of the same key is a job of its own, never seen here.",
        security,
        headers: {
          type: 'object',
          properties: {
            'idempotency-key': { type: 'string', description: "Makes the job id (with the caller's principal); a repeated key returns the existing job" },
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
      const principal = principalOf(request);
      const jobId = idempotentJobId(request, principal);
      const source = firstHeader(request, 'x-bundlefarm-source') ?? 'api';
      if (!CLIENT_SOURCE.test(source)) throw new BadRequestError('X-Bundlefarm-Source must be 1-32 lowercase letters, digits or "-" (not github or gitlab)');
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

  app.get<{ Querystring: Record<string, string>; Reply: ListResponse | ErrorBody }>(
    '/v1/bundles',
    {
      schema: {
        tags: ['bundles'],
        summary: 'List bundle jobs',
        description:
          "The jobs the caller's principal may see (its own, or every job with canSeeOthers), newest first, a page at a time: " +
          'pass the answer\'s nextCursor as ?cursor= for the next page. A job a user cancelled while it ran is in state cancelled, not failed.',
        security,
        querystring: listQueryJsonSchema(),
        response: { 200: responseJsonSchema(listResponseSchema), ...errors(400, 401, 503) },
      },
    },
    async (request) => {
      const q = listQuerySchema.safeParse(request.query ?? {});
      if (!q.success) {
        const issue = q.error.issues[0];
        throw new BadRequestError(`query ${issue?.path.join('.') || 'string'}: ${issue?.message ?? 'invalid'}`);
      }
      const principal = principalOf(request);
      return producer.list({
        ...(q.data.state !== undefined ? { states: q.data.state } : {}),
        limit: q.data.limit,
        ...(q.data.cursor !== undefined ? { cursor: q.data.cursor } : {}),
        visible: (owner) => principal.maySee(owner),
      });
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
        response: { 200: responseJsonSchema(bundleStatusSchema), ...errors(401, 404, 422, 503) },
      },
    },
    async (request) => visibleJob(producer, principalOf(request), request.params.id, 'see'),
  );

  app.get<{ Params: { id: string }; Querystring: { offset?: string }; Reply: LogResponse | ErrorBody }>(
    '/v1/bundles/:id/logs',
    {
      schema: {
        tags: ['bundles'],
        summary: "A bundle job's log",
        description: 'What its workers noted (attempts, preflight, bundling, each region published, the failure), oldest first; ?offset=N skips the first N lines (pass `next` to follow).',
        security,
        params: idParam,
        querystring: { type: 'object', properties: { offset: { type: 'integer', minimum: 0, description: 'first line to return (default 0)' } } },
        response: { 200: responseJsonSchema(logResponseSchema), ...errors(400, 401, 404, 503) },
      },
    },
    async (request) => {
      const raw = request.query?.offset;
      if (raw !== undefined && !/^\d{1,9}$/.test(raw)) throw new BadRequestError('query offset: must be a whole number of lines (0 or more)');
      await checkJobAccess(producer, principalOf(request), request.params.id, 'see');
      return producer.logs(request.params.id, raw === undefined ? 0 : Number(raw));
    },
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
      await checkJobAccess(producer, principal, request.params.id, 'manage');
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
        summary: 'Retry a failed or cancelled bundle job',
        description:
          'Runs a failed or cancelled job again with fresh attempts (also a completed job one of whose regions failed). Regions already published are not redone. ' +
          'Any other job: 409 BF_JOB_STATE_CONFLICT naming its state; a job whose data is not a job of this service: 422 BF_JOB_DATA_INVALID.',
        security,
        params: idParam,
        response: { 202: responseJsonSchema(retryResponseSchema), ...errors(401, 403, 404, 409, 422, 503) },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      await checkJobAccess(producer, principal, request.params.id, 'manage');
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
