import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { BundleProducer } from '@bundlefarm/queue';
import { requireBoardLogin, type BoardLogins, type BoardRole } from '../auth/admin-auth.js';
import { FailureLimiter } from '../auth/failure-limiter.js';

/** Where the read-only Bull Board is served (viewers and the admin). */
export const BOARD_PATH = '/admin/queues';
/** Where the same board is served with its write actions (the admin login only). */
export const ADMIN_BOARD_PATH = '/admin/manage';

export interface BoardOptions {
  logins: BoardLogins;
  /** No write actions at all, not even for the admin (no ADMIN_BOARD_PATH). */
  readOnly: boolean;
  /** Failed logins per client before it must wait (default: FailureLimiter's). */
  limiter?: FailureLimiter;
}

/** Headers of every board answer: never framed (clickjacking of its buttons), never sniffed. */
const BOARD_HEADERS = {
  'x-frame-options': 'DENY',
  'content-security-policy': "frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * Bull Board (the queue's jobs, their data, progress, results and failures), twice:
 *
 * - at BOARD_PATH, read-only (bull-board's readOnlyMode, which its server enforces too, and every
 *   method but GET/HEAD refused here besides) for viewers — principals that may see every job, by
 *   token — and the admin;
 * - at ADMIN_BOARD_PATH, with retry, promote, clean, remove, pause, add and edit, for the admin login
 *   only (never an API token); not served at all when no admin login is configured or `readOnly`.
 *
 * Job data holds the spec only — no keys, no credentials — so the board shows no secrets. Each board is
 * in a plugin scope of its own: its error handler, view engine and static files do not leak into the API.
 */
export async function registerBullBoard(app: FastifyInstance, producer: BundleProducer, options: BoardOptions): Promise<void> {
  const limiter = options.limiter ?? new FailureLimiter();
  await mount(app, producer, BOARD_PATH, 'viewer', options.logins, limiter);
  if (options.logins.admin !== undefined && !options.readOnly) await mount(app, producer, ADMIN_BOARD_PATH, 'admin', options.logins, limiter);
}

async function mount(app: FastifyInstance, producer: BundleProducer, path: string, role: BoardRole, logins: BoardLogins, limiter: FailureLimiter): Promise<void> {
  const readOnly = role === 'viewer';
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(path);
  createBullBoard({
    queues: [
      new BullMQAdapter(producer.queue, { readOnlyMode: readOnly, displayName: 'bundles', description: 'bundlefarm bundle jobs' }),
      // notices and how their deliveries went: to look at, never to edit (a notice is MAC-bound anyway)
      new BullMQAdapter(producer.notices, { readOnlyMode: true, displayName: 'notifications', description: 'job-end notices and their deliveries' }),
    ],
    serverAdapter,
    options: { uiConfig: { boardTitle: readOnly ? 'bundlefarm' : 'bundlefarm (admin)' } },
  });
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (_request: FastifyRequest, reply: FastifyReply) => {
      reply.headers(BOARD_HEADERS);
    });
    scope.addHook('onRequest', requireBoardLogin(role, logins, limiter));
    if (readOnly) {
      scope.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
        if (request.method === 'GET' || request.method === 'HEAD') return;
        request.log.info({ status: 403, method: request.method }, 'board write refused: read-only board');
        await reply.code(403).send({ error: 'BF_FORBIDDEN', message: `forbidden: this board is read-only; write actions are at ${ADMIN_BOARD_PATH}, for the admin login` });
      });
    }
    await scope.register(serverAdapter.registerPlugin(), { prefix: path });
  });
}
