/*
 * Logins of Bull Board. Two roles:
 *
 * - admin: the configured basic-auth login (BUNDLEFARM_ADMIN_USER/PASSWORD) — the only one that may use
 *   the board's write actions;
 * - viewer: a principal that may see every job (`canSeeOthers`), with its API token as a bearer token
 *   or as the basic-auth password (any user name) — read-only, whatever the token.
 *
 * Failed logins are counted per client (FailureLimiter); a client over the limit gets 429 for a while.
 * Answers are sent from the hook itself: Bull Board's plugin has an error handler of its own that would
 * turn a thrown error into a 500.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principals } from '@bundlefarm/queue';
import { bearerToken } from './bearer-auth.js';
import { secretEquals } from './constant-time.js';
import type { FailureLimiter } from './failure-limiter.js';

export type BoardRole = 'viewer' | 'admin';

export interface BoardLogins {
  /** The admin login (basic auth). */
  admin?: { user: string; password: string };
  /** Principals whose tokens may view the board (those with `canSeeOthers`). */
  principals: Principals;
}

export const BASIC_CHALLENGE = 'Basic realm="bundlefarm board", charset="UTF-8"';
export const ADMIN_CHALLENGE = 'Basic realm="bundlefarm board admin", charset="UTF-8"';

/** The role the request's credentials give, if any. */
export function boardRole(header: string, logins: BoardLogins): BoardRole | undefined {
  const token = bearerToken(header);
  if (token !== undefined) return logins.principals.byToken(token)?.canSeeOthers ? 'viewer' : undefined;
  const basic = /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const user = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  if (logins.admin) {
    const userOk = secretEquals(user, logins.admin.user);
    const passwordOk = secretEquals(password, logins.admin.password);
    if (userOk && passwordOk) return 'admin';
  }
  return password !== '' && logins.principals.byToken(password)?.canSeeOthers ? 'viewer' : undefined;
}

/** onRequest hook of a board: credentials of `need` (an admin may also view) or 401; 429 for a client over its failure limit. */
export function requireBoardLogin(need: BoardRole, logins: BoardLogins, limiter: FailureLimiter): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const challenge = need === 'admin' ? ADMIN_CHALLENGE : BASIC_CHALLENGE;
  return async (request, reply) => {
    const client = request.ip;
    const wait = limiter.blockedFor(client);
    if (wait > 0) {
      request.log.warn({ status: 429, client }, 'board login refused: too many failures from this client');
      await reply
        .code(429)
        .header('retry-after', String(wait))
        .send({ error: 'BF_TOO_MANY_ATTEMPTS', message: `too many failed logins from this client; try again in ${wait} s` });
      return;
    }
    const header = request.headers.authorization ?? '';
    const role = header === '' ? undefined : boardRole(header, logins);
    if (role === 'admin' || role === need) return;
    // a wrong credential counts; none at all (a browser's first request) and a viewer at the admin board do not
    if (header !== '' && role === undefined) limiter.fail(client);
    const message =
      header === '' ? 'credentials are required' : role === 'viewer' ? 'this is the admin board: log in with the admin login' : 'the credentials are not valid';
    request.log.info({ code: 'BF_UNAUTHORIZED', status: 401, board: need }, 'admin request refused');
    await reply.code(401).header('www-authenticate', challenge).send({ error: 'BF_UNAUTHORIZED', message: `not authenticated: ${message}` });
  };
}
