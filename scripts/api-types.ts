// Writes packages/cli/src/api-types.ts: the TypeScript types of the API's wire format, generated with
// openapi-typescript from the OpenAPI document the server serves (GET /openapi.json). The CLI's API
// client (packages/cli/src/api-client.ts) takes its response types from there, so it states none of
// them a second time, and it never imports the server package (which would load fastify at run time).
// test/service/openapi.test.ts fails when the committed file is not what this script writes now:
// run `npm run api-types` after changing a route's schema (packages/server/src/openapi/api-schemas.ts).
//
// Usage: npm run api-types (builds first; the server is built in-process, no Redis needed: nothing is
// served, only the document is taken).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';

export const API_TYPES_FILE = fileURLToPath(new URL('../packages/cli/src/api-types.ts', import.meta.url));

const HEADER = `/*
 * The bundlefarm API's wire format as TypeScript types, GENERATED from the server's OpenAPI document
 * (GET /openapi.json) by openapi-typescript: do not edit; run \`npm run api-types\` (scripts/api-types.ts).
 * test/service/openapi.test.ts fails when this file is not what the document gives now.
 */
/* eslint-disable */
`;

/** The file's text for the document `doc`. defaultNonNullable off: a field with a default is optional to send. */
export async function renderApiTypes(doc: unknown): Promise<string> {
  return HEADER + astToString(await openapiTS(doc as Parameters<typeof openapiTS>[0], { defaultNonNullable: false }));
}

/** The document as the server builds it (the configuration is the OpenAPI test's: the document does not depend on it). */
export async function serverOpenApiDocument(): Promise<unknown> {
  const { buildServer } = await import('@bundlefarm/server');
  const app = await buildServer({ apiTokens: ['openapi-token-0123456789'], redisUrl: 'redis://127.0.0.1:9', queuePrefix: 'openapi', logLevel: 'silent' }, { logger: false });
  // what GET /openapi.json serves, without listening
  const res = await app.inject({ method: 'GET', url: '/openapi.json' });
  if (res.statusCode !== 200) throw new Error(`GET /openapi.json answered ${res.statusCode}: ${res.body}`);
  return res.json<unknown>();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(API_TYPES_FILE, await renderApiTypes(await serverOpenApiDocument()));
  console.log('packages/cli/src/api-types.ts written');
  // the server's Redis connection (never used) would keep the process up
  process.exit(0);
}
