/**
 * Makes the document @fastify/swagger collects from the route schemas one a client generator can use:
 *
 * - every operation has a stable `operationId` (OPERATIONS; a route missing from the table gets one
 *   derived from its method and path, and a test asks for it to be added);
 * - request and success bodies are named component schemas (`JobSpec`, `BundleStatus` …), referenced
 *   from the operations, the same name for the same body;
 * - every error response is the one `Error` schema, described with the codes the API answers with that
 *   status (from the error registry, packages/errors/src/error-registry.ts), with an example;
 * - success responses say what they are instead of "Default Response"; `servers` and examples are set.
 */
import { ERROR_REGISTRY, type ErrorEntry } from '@bundlefarm/errors';

/** Names of one operation: its id, and the component names of its request body and success bodies. */
export interface OperationNames {
  id: string;
  request?: string;
  responses?: Record<string, string>;
}

/** `METHOD /path` (OpenAPI path syntax) → names. One place, so the generated client's names are stable. */
export const OPERATIONS: Readonly<Record<string, OperationNames>> = {
  'get /healthz': { id: 'getHealth', responses: { 200: 'Health' } },
  'get /readyz': { id: 'getReadiness', responses: { 200: 'Readiness', 503: 'Readiness' } },
  'get /metrics': { id: 'getMetrics' },
  'post /v1/bundles': { id: 'enqueueBundle', request: 'JobSpec', responses: { 200: 'EnqueuedJob', 202: 'EnqueuedJob' } },
  'get /v1/bundles': { id: 'listBundles', responses: { 200: 'BundleList' } },
  'get /v1/bundles/{id}': { id: 'getBundle', responses: { 200: 'BundleStatus' } },
  'delete /v1/bundles/{id}': { id: 'cancelBundle', responses: { 200: 'CancelResult', 202: 'CancelResult' } },
  'post /v1/bundles/{id}/retry': { id: 'retryBundle', responses: { 200: 'RetryResult', 202: 'RetryResult' } },
  'get /v1/bundles/{id}/logs': { id: 'getBundleLogs', responses: { 200: 'BundleLogs' } },
  'get /v1/queue': { id: 'getQueueCounts', responses: { 200: 'QueueCounts' } },
  'post /v1/uploads': { id: 'createUpload', request: 'UploadRequest', responses: { 201: 'Upload' } },
  'get /v1/uploads/{id}': { id: 'getUpload', responses: { 200: 'Upload' } },
  'post /v1/uploads/{id}/complete': { id: 'completeUpload', request: 'UploadCompletion', responses: { 200: 'CompletedUpload' } },
  'post /v1/hooks/github': { id: 'receiveGithubWebhook', responses: { 200: 'WebhookResult', 202: 'WebhookResult' } },
  'post /v1/hooks/gitlab': { id: 'receiveGitlabWebhook', responses: { 200: 'WebhookResult', 202: 'WebhookResult' } },
};

const STATUS_TEXT: Record<string, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No content',
};

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `post /v1/bundles/{id}/retry` → `postV1BundlesIdRetry`, for routes not in OPERATIONS. */
export function derivedOperationId(method: string, path: string): string {
  const words = path.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return method.toLowerCase() + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

const pascal = (id: string): string => id[0]!.toUpperCase() + id.slice(1);

/** The codes the API answers with `status`, as the registry says. */
function codesWithStatus(status: number): Array<[string, ErrorEntry]> {
  return (Object.entries(ERROR_REGISTRY) as Array<[string, ErrorEntry]>).filter(([, e]) => e.http === status && (e.where === 'api' || e.where === 'any'));
}

const ERROR_SCHEMA: Json = {
  type: 'object',
  description: 'Every error of the API. `error` is a stable code (docs/errors.md); match on it, never on `message`.',
  properties: {
    error: { type: 'string', description: 'Stable error code, BF_…', examples: ['BF_BAD_SPEC'] },
    message: { type: 'string', description: 'One line, for people' },
    problems: {
      type: 'array',
      description: 'Every problem of a spec (BF_BAD_SPEC, BF_OUT_OF_SCOPE, BF_RULE_SPEC_INVALID)',
      items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } }, required: ['path', 'message'], additionalProperties: false },
    },
    details: { type: 'object', additionalProperties: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }, { type: 'null' }] } },
  },
  required: ['error', 'message'],
  additionalProperties: false,
};

const JOB_SPEC_EXAMPLE = {
  name: 'debian-12',
  image: 's3://ci-images/debian-12.img',
  architecture: 'x86_64',
  accountId: '123456789012',
  identity: 'release',
  regions: [
    { region: 'us-east-1', bucket: 'my-amis', prefix: 'debian/12/' },
    { region: 'eu-west-1', bucket: 'my-amis-eu', prefix: 'debian/12/' },
  ],
};

/** Shapes `doc` (an OpenAPI 3.1 object) in place and returns it. */
export function shapeOpenApi(doc: Json, servers: Array<{ url: string; description?: string }> = [{ url: '/', description: 'this API' }]): Json {
  const components = (isObject(doc.components) ? doc.components : (doc.components = {}));
  const schemas = (isObject(components.schemas) ? components.schemas : (components.schemas = {}));
  schemas.Error = ERROR_SCHEMA;
  doc.servers = servers;
  const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
  /** Lifts `schema` into components under `name` (the first body given a name keeps it) and returns the reference. */
  const named = (name: string, schema: unknown): Json => {
    if (!(name in schemas)) schemas[name] = schema;
    return ref(name);
  };
  const paths = isObject(doc.paths) ? doc.paths : {};
  for (const [path, item] of Object.entries(paths)) {
    if (!isObject(item)) continue;
    for (const [method, op] of Object.entries(item)) {
      if (!isObject(op) || !['get', 'put', 'post', 'delete', 'patch'].includes(method)) continue;
      const names = OPERATIONS[`${method} ${path}`];
      const id = names?.id ?? derivedOperationId(method, path);
      op.operationId = id;
      const body = isObject(op.requestBody) ? op.requestBody : undefined;
      const bodyContent = body && isObject(body.content) ? body.content : undefined;
      for (const media of Object.values(bodyContent ?? {})) {
        if (!isObject(media) || !isObject(media.schema) || '$ref' in media.schema) continue;
        const name = names?.request ?? `${pascal(id)}Request`;
        media.schema = named(name, media.schema);
        if (name === 'JobSpec') media.example = JOB_SPEC_EXAMPLE;
      }
      const responses = isObject(op.responses) ? op.responses : {};
      for (const [status, response] of Object.entries(responses)) {
        if (!isObject(response)) continue;
        const code = Number(status);
        const content = isObject(response.content) ? response.content : undefined;
        if (code >= 400 && names?.responses?.[status] === undefined) {
          const codes = codesWithStatus(code);
          response.description = codes.length > 0 ? `Error: ${codes.map(([c]) => c).join(', ')}` : 'Error';
          response.content = {
            'application/json': {
              schema: ref('Error'),
              example: codes[0] ? { error: codes[0][0], message: codes[0][1].meaning } : { error: 'BF_INTERNAL', message: 'internal error' },
            },
          };
          response['x-bundlefarm-error-codes'] = codes.map(([c]) => c);
          continue;
        }
        if (response.description === 'Default Response' || response.description === undefined) response.description = STATUS_TEXT[status] ?? `HTTP ${status}`;
        for (const media of Object.values(content ?? {})) {
          if (!isObject(media) || !isObject(media.schema) || '$ref' in media.schema) continue;
          media.schema = named(names?.responses?.[status] ?? `${pascal(id)}Response${status}`, media.schema);
        }
      }
    }
  }
  return doc;
}
