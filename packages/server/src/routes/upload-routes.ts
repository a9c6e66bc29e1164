/*
 * Images from CI (staging-uploads.ts): behind a principal's bearer token like the bundle routes.
 *
 * - POST /v1/uploads `{ filename, size }` — 201: presigned URLs into the staging area;
 * - GET /v1/uploads/:id — what is stored, fresh URLs for the rest (resume);
 * - POST /v1/uploads/:id/complete `{ parts: [{ partNumber, etag }] }` — 200 `{ image }` to enqueue with.
 */
import type { FastifyInstance } from 'fastify';
import type { Principals } from '@bundlefarm/queue';
import { principalOf, requirePrincipal } from '../auth/principals.js';
import {
  completedUploadSchema,
  errorBodySchema,
  responseJsonSchema,
  uploadResponseSchema,
  type CompletedUploadResponse,
  type ErrorBody,
  type UploadResponse,
} from '../openapi/api-schemas.js';
import { completeUploadSchema, createUploadSchema, MULTIPART_THRESHOLD, PART_SIZE, type StagingUploads } from '../uploads/staging-uploads.js';
import { StagingNotConfiguredError } from '../uploads/upload-errors.js';
import { z } from 'zod';

export interface UploadRoutesOptions {
  uploads: StagingUploads | undefined;
  principals: Principals;
}

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, responseJsonSchema(errorBodySchema)]));
const idParam = { type: 'object', properties: { id: { type: 'string', description: 'upload id' } }, required: ['id'] };
const security = [{ bearer: [] }];
const body = (schema: z.ZodType): Record<string, unknown> => {
  const json = z.toJSONSchema(schema, { io: 'input' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
};

export async function uploadRoutes(app: FastifyInstance, options: UploadRoutesOptions): Promise<void> {
  app.addHook('onRequest', requirePrincipal(options.principals));
  app.removeContentTypeParser('text/plain');
  const uploads = (): StagingUploads => {
    if (!options.uploads) throw new StagingNotConfiguredError();
    return options.uploads;
  };

  app.post<{ Body: unknown; Reply: UploadResponse | ErrorBody }>(
    '/v1/uploads',
    {
      schema: {
        tags: ['uploads'],
        summary: 'Start an image upload into the staging area',
        description:
          `Answers presigned S3 URLs for an object at PREFIX/<principal>/<id>/<filename> of the staging area (BUNDLEFARM_STAGING), which must be inside the principal's image scope (else 403, field image). ` +
          `Up to ${MULTIPART_THRESHOLD / 1048576} MiB: one PUT URL; larger: a multipart upload in parts of ${PART_SIZE / 1048576} MiB (more above 156 GiB). ` +
          'Send each part with Content-MD5, then POST the ETags to completeUrl, and enqueue a job with `image`. The object is deleted by the worker when that job ends.',
        security,
        body: body(createUploadSchema),
        response: { 201: responseJsonSchema(uploadResponseSchema), ...errors(400, 401, 403, 501, 503) },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const view = await uploads().create(principal, request.body);
      request.log.info({ upload: view.id, principal: principal.name, size: view.size, parts: view.parts.length }, 'upload started');
      return reply.code(201).header('location', `/v1/uploads/${view.id}`).send(view);
    },
  );

  app.get<{ Params: { id: string }; Reply: UploadResponse | ErrorBody }>(
    '/v1/uploads/:id',
    {
      schema: {
        tags: ['uploads'],
        summary: 'An upload: parts stored, fresh URLs for the others (resume)',
        security,
        params: idParam,
        response: { 200: responseJsonSchema(uploadResponseSchema), ...errors(401, 404, 501, 503) },
      },
    },
    async (request) => uploads().describe(principalOf(request), request.params.id),
  );

  app.post<{ Params: { id: string }; Body: unknown; Reply: CompletedUploadResponse | ErrorBody }>(
    '/v1/uploads/:id/complete',
    {
      schema: {
        tags: ['uploads'],
        summary: 'Complete an upload',
        description: 'Checks that every part is stored with the ETag given, completes the multipart upload, and answers the image to enqueue with. Repeating it answers the same.',
        security,
        params: idParam,
        body: body(completeUploadSchema),
        response: { 200: responseJsonSchema(completedUploadSchema), ...errors(400, 401, 404, 409, 501, 503) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const done = await uploads().complete(principal, request.params.id, request.body);
      request.log.info({ upload: done.id, principal: principal.name, image: done.image }, 'upload completed');
      return done;
    },
  );
}
