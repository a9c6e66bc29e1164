import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import type { BundleProducer } from '@bundlefarm/queue';
import { requireAdmin, type AdminCredentials } from '../auth/admin-auth.js';

/** Where Bull Board is served. */
export const BOARD_PATH = '/admin/queues';

export interface BoardOptions {
  credentials: AdminCredentials;
  /** No retry/remove/clean/pause buttons (default false). */
  readOnly: boolean;
}

/**
 * Bull Board (the queue's jobs, their data, progress, results and failures) at /admin/queues, behind
 * HTTP basic auth or an API token. Job data holds the spec only — no keys, no credentials — so the board
 * shows no secrets. Registered in a plugin scope of its own: its error handler, view engine and static
 * files do not leak into the API.
 */
export async function registerBullBoard(app: FastifyInstance, producer: BundleProducer, options: BoardOptions): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: [new BullMQAdapter(producer.queue, { readOnlyMode: options.readOnly, displayName: 'bundles', description: 'bundlefarm bundle jobs' })],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'bundlefarm' } },
  });
  await app.register(async (scope) => {
    scope.addHook('onRequest', requireAdmin(options.credentials));
    await scope.register(serverAdapter.registerPlugin(), { prefix: BOARD_PATH });
  });
}
