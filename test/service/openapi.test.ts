// The OpenAPI document as a client generator meets it: operationIds, named schemas, every error with the
// Error schema and its codes; TypeScript types generated from it (openapi-typescript) against which the
// CLI's API client compiles, so the document and the client cannot drift; and /docs rendered in Chromium.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';
import { chromium } from 'playwright-core';
import ts from 'typescript';
import { ERROR_REGISTRY } from '@bundlefarm/errors';
import { buildServer, OPERATIONS } from '@bundlefarm/server';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { chromiumPath, needsBrowser } from '../helpers/requirements.js';
import { tempDir } from '../helpers/temp-dir.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
let redis: TestRedis;
let app: Awaited<ReturnType<typeof buildServer>>;
let url: string;
 
let doc: any;

before(async () => {
  redis = await startRedis();
  app = await buildServer(
    { apiTokens: ['openapi-token-0123456789'], redisUrl: redis.url, queuePrefix: 'openapi', logLevel: 'silent' },
    { logger: false },
  );
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  doc = await (await fetch(`${url}/openapi.json`)).json();
});
after(async () => {
  await app?.close();
  await redis?.dispose();
});

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
 
function operations(): Array<{ key: string; op: any }> {
   
  return Object.entries(doc.paths as Record<string, any>).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([m]) => METHODS.includes(m))
      .map(([m, op]) => ({ key: `${m} ${path}`, op })),
  );
}

describe('the OpenAPI document', () => {
  it('names every operation (stable operationIds from one table) and says who serves it', () => {
    const ops = operations();
    assert.ok(ops.length >= 12, `${ops.length} operations`);
    const missing = ops.filter(({ key }) => OPERATIONS[key] === undefined).map(({ key }) => key);
    assert.deepEqual(missing, [], 'operations without a name in packages/server/src/openapi/openapi-shape.ts OPERATIONS');
    const ids = ops.map(({ op }) => op.operationId as string);
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
    assert.ok(ids.every((id) => /^[a-z][A-Za-z0-9]+$/.test(id)), ids.join(', '));
    assert.ok(Array.isArray(doc.servers) && doc.servers.length > 0, 'servers');
  });

  it('has every body as a named component schema, and every error as the Error schema with its codes', () => {
    for (const { key, op } of operations()) {
      for (const media of Object.values<{ schema: { $ref?: string } }>(op.requestBody?.content ?? {})) {
        assert.match(media.schema.$ref ?? '', /^#\/components\/schemas\/[A-Z]\w+$/, `${key}: request body`);
      }
      for (const [status, response] of Object.entries<{ description: string; content?: Record<string, { schema: { $ref?: string } }>; 'x-bundlefarm-error-codes'?: string[] }>(op.responses)) {
        assert.notEqual(response.description, 'Default Response', `${key} ${status}`);
        const json = response.content?.['application/json'];
        if (Number(status) >= 400 && OPERATIONS[key]?.responses?.[status] === undefined) {
          assert.equal(json?.schema.$ref, '#/components/schemas/Error', `${key} ${status}: the error body`);
          for (const code of response['x-bundlefarm-error-codes'] ?? []) {
            assert.equal(ERROR_REGISTRY[code as keyof typeof ERROR_REGISTRY].http, Number(status), `${key} ${status}: ${code}`);
          }
        } else if (json) {
          assert.match(json.schema.$ref ?? '', /^#\/components\/schemas\/[A-Z]\w+$/, `${key} ${status}: a named schema`);
        }
      }
    }
    for (const name of ['JobSpec', 'EnqueuedJob', 'BundleStatus', 'Error', 'Upload']) assert.ok(doc.components.schemas[name], name);
    assert.deepEqual(doc.components.schemas.Error.required, ['error', 'message']);
    assert.ok(doc.paths['/v1/bundles'].post.requestBody.content['application/json'].example, 'an example spec');
  });

  it('generates TypeScript types (openapi-typescript) against which the CLI API client compiles', async () => {
    const dir = await tempDir();
    // defaultNonNullable off: a field with a default is optional to send (the spec's replace, partition …)
    const types = astToString(await openapiTS(doc as Parameters<typeof openapiTS>[0], { defaultNonNullable: false }));
    await mkdir(join(dir, 'src'), { recursive: true });
    await writeFile(join(dir, 'src', 'api-types.ts'), types);
    const client = join(root, 'packages', 'cli', 'src', 'api-client.ts').replaceAll('\\', '/');
    // what the server sends must fit what the client reads, and what the client sends what the server takes
    await writeFile(
      join(dir, 'src', 'check.ts'),
      `import type { components } from './api-types.js';
import type { EnqueuedJob, JobSpecBody, JobStatusView, UploadView, ApiErrorBody } from '${client.replace(/\.ts$/, '.js')}';
type S = components['schemas'];
type Fits<T, U extends T> = U;
export type Enqueued = Fits<EnqueuedJob, S['EnqueuedJob']>;
export type Status = Fits<JobStatusView, S['BundleStatus']>;
export type Upload = Fits<UploadView, S['Upload']>;
export type ErrorBody = Fits<ApiErrorBody, S['Error']>;
// the client sends plain strings where the document lists the values (regions): the server checks them
type Widen<T> = T extends string ? string : T extends number ? number : T extends boolean ? boolean : T extends Array<infer E> ? Array<Widen<E>> : T extends object ? { [K in keyof T]: Widen<T[K]> } : T;
export type Spec = Fits<Widen<S['JobSpec']>, JobSpecBody>;
// and never a field the server does not know (its spec is strict)
type Extra<C, A> = Exclude<keyof C, keyof A>;
export const noExtraSpecFields: [Extra<JobSpecBody, S['JobSpec']>] extends [never] ? true : Extra<JobSpecBody, S['JobSpec']> = true;
export const noExtraRegionFields: [Extra<JobSpecBody['regions'][number], S['JobSpec']['regions'][number]>] extends [never] ? true : false = true;
`,
    );
    const program = ts.createProgram([join(dir, 'src', 'check.ts')], {
      strict: true,
      noEmit: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [join(root, 'node_modules', '@types')],
    });
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file?.fileName.startsWith(dir) ?? true)
      .map((d) => `${d.file?.fileName.slice(dir.length) ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    assert.deepEqual(problems, [], 'the CLI client and the generated types disagree');
  });

  it('is rendered at /docs (Swagger UI, served locally) with every operation', { skip: needsBrowser() }, async () => {
    const browser = await chromium.launch({
      executablePath: chromiumPath(),
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    try {
      const page = await browser.newPage();
      const outside: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith(url) && !r.url().startsWith('data:')) outside.push(r.url());
      });
      await page.goto(`${url}/docs`);
      await page.locator('.opblock').first().waitFor({ timeout: 30_000 });
      assert.equal(await page.locator('.opblock').count(), operations().length, 'one block per operation');
      assert.ok(await page.getByText('enqueueBundle').first().isVisible(), 'operationIds shown');
      assert.ok(await page.getByText('bundlefarm API').first().isVisible(), 'the title');
      assert.deepEqual(outside, [], 'nothing fetched from elsewhere');
    } finally {
      await browser.close();
    }
  });
});
