import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { shapeOpenApi } from './openapi-shape.js';

/**
 * OpenAPI 3.1 document of the API, collected from the route schemas by @fastify/swagger and served at
 * GET /openapi.json. The job spec's schema is zod's (`z.toJSONSchema`), so the document and the
 * validation cannot drift. Route schemas are documentation only: requests are validated with zod and
 * responses serialized with JSON.stringify (see build-server.ts).
 */
export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    // operationIds, named component schemas, error responses with their codes (openapi-shape.ts)
    transformObject: (doc) => ('openapiObject' in doc ? (shapeOpenApi(doc.openapiObject as Record<string, unknown>) as typeof doc.openapiObject) : doc.swaggerObject),
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'bundlefarm API',
        version,
        description:
          'Queued EC2 instance-store AMI bundles (ec2-bundle-image compatible). Errors are `{ error: CODE, message, problems?, details? }` with stable codes.',
      },
      tags: [
        { name: 'bundles', description: 'Bundle jobs' },
        { name: 'uploads', description: 'Images from CI, uploaded through presigned S3 URLs into the staging area' },
        { name: 'webhooks', description: 'CI webhooks mapped to jobs by rules' },
        { name: 'health', description: 'Probes and metrics' },
      ],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: "A principal's API token (BUNDLEFARM_PRINCIPALS_FILE, or the legacy BUNDLEFARM_API_TOKENS); what it may do is the principal's scope" },
          basic: { type: 'http', scheme: 'basic', description: 'Bull Board: read-only at /admin/queues (a viewer token as password, or the admin), write actions at /admin/manage (BUNDLEFARM_ADMIN_USER/PASSWORD only)' },
        },
      },
    },
  });
}

export function openApiRoute(app: FastifyInstance): void {
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

/**
 * The document rendered at GET /docs (Swagger UI, served from this process: no CDN). Public, like
 * /openapi.json: it shows the API's shape, never a job or a secret. Its own assets under /docs/static.
 */
export async function registerApiDocs(app: FastifyInstance): Promise<void> {
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { displayOperationId: true, defaultModelsExpandDepth: 1, docExpansion: 'list', deepLinking: true },
    staticCSP: true,
  });
}
