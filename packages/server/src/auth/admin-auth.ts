import type { FastifyReply, FastifyRequest } from 'fastify';
import { UnauthorizedError } from '../errors/http-errors.js';
import { bearerToken } from './bearer-auth.js';
import { matchesAnySecret, secretEquals } from './constant-time.js';

export const BASIC_CHALLENGE = 'Basic realm="bundlefarm admin", charset="UTF-8"';

export interface AdminCredentials {
  /** HTTP basic-auth user and password (optional). */
  basic?: { user: string; password: string };
  /** API bearer tokens, also accepted. */
  tokens: readonly string[];
}

/**
 * onRequest hook for the admin UI (Bull Board): HTTP basic auth with the configured user and password,
 * or an API bearer token. A browser without credentials gets 401 with `WWW-Authenticate: Basic`, so it
 * asks for them. The 401 is sent from the hook itself: Bull Board's plugin has an error handler of its
 * own that would turn a thrown error into a 500.
 */
export function requireAdmin(credentials: AdminCredentials): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (request, reply) => {
    const header = request.headers.authorization ?? '';
    const token = bearerToken(header);
    if (token !== undefined && matchesAnySecret(token, credentials.tokens)) return;
    const basic = /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (basic && credentials.basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) {
        const userOk = secretEquals(decoded.slice(0, colon), credentials.basic.user);
        const passwordOk = secretEquals(decoded.slice(colon + 1), credentials.basic.password);
        if (userOk && passwordOk) return;
      }
    }
    const err = new UnauthorizedError(header === '' ? 'credentials are required' : 'the credentials are not valid', BASIC_CHALLENGE);
    request.log.info({ code: err.code, status: 401 }, 'admin request refused');
    await reply.code(401).header('www-authenticate', err.challenge).send({ error: err.code, message: err.message });
  };
}
