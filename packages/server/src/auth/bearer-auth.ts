import type { FastifyRequest } from 'fastify';
import { UnauthorizedError } from '../errors/http-errors.js';
import { matchesAnySecret } from './constant-time.js';

/** The token of an `Authorization: Bearer <token>` header, if that is what the header holds. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer[ ]+([\x21-\x7e]+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

/**
 * onRequest hook: the request must carry one of `tokens` as a bearer token. Runs before the body is
 * read, so an unauthenticated client cannot make the server read (or parse) a body at all.
 */
export function requireBearer(tokens: readonly string[]): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    const header = request.headers.authorization;
    if (header === undefined) throw new UnauthorizedError('send Authorization: Bearer <token>');
    const token = bearerToken(header);
    if (token === undefined || !matchesAnySecret(token, tokens)) throw new UnauthorizedError('the bearer token is not valid');
  };
}
