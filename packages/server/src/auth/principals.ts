import type { FastifyRequest } from 'fastify';
import { LEGACY_PRINCIPAL, Principals, type Principal } from '@bundlefarm/queue';
import { UnauthorizedError } from '../errors/http-errors.js';
import { bearerToken } from './bearer-auth.js';

/*
 * Who is calling: the principal whose token a request carries. Principals come from the principals
 * file (BUNDLEFARM_PRINCIPALS_FILE, tokens stored as SHA-256 hashes) and/or the legacy
 * BUNDLEFARM_API_TOKENS list, which stands for one unrestricted principal (LEGACY_PRINCIPAL) — kept so
 * existing deployments go on working, with a warning at every start.
 */
export interface ServerPrincipals {
  all: Principals;
  /** Set when BUNDLEFARM_API_TOKENS is in use (one unrestricted principal). */
  legacy: boolean;
}

export async function loadServerPrincipals(principalsFile: string | undefined, legacyTokens: readonly string[]): Promise<ServerPrincipals> {
  let all = principalsFile !== undefined ? await Principals.load(principalsFile) : Principals.none;
  if (legacyTokens.length > 0) all = all.with(Principals.unrestricted(legacyTokens));
  return { all, legacy: legacyTokens.length > 0 };
}

/** What the API says at start-up about its principals (names and scopes, never tokens or hashes). */
export function principalsWarnings(p: ServerPrincipals): string[] {
  const out: string[] = [];
  if (p.legacy) {
    out.push(
      `BUNDLEFARM_API_TOKENS is set: its tokens are one unrestricted principal (${JSON.stringify(LEGACY_PRINCIPAL)}) that may sign with every identity, write every bucket and read every image; configure scoped principals (BUNDLEFARM_PRINCIPALS_FILE) instead`,
    );
  }
  return out;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated principal (routes behind `requirePrincipal` only). */
    principal?: Principal;
  }
}

/**
 * onRequest hook: the request must carry the token of a principal as a bearer token; sets
 * `request.principal`. Runs before the body is read, so an unauthenticated client cannot make the
 * server read (or parse) a body at all.
 */
export function requirePrincipal(principals: Principals): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    const header = request.headers.authorization;
    if (header === undefined) throw new UnauthorizedError('send Authorization: Bearer <token>');
    const token = bearerToken(header);
    const principal = token === undefined ? undefined : principals.byToken(token);
    if (!principal || principal.tokenDigests.length === 0) throw new UnauthorizedError('the bearer token is not valid');
    request.principal = principal;
  };
}

/** The principal of a request that passed `requirePrincipal`. */
export function principalOf(request: FastifyRequest): Principal {
  const p = request.principal;
  if (!p) throw new UnauthorizedError('no principal');
  return p;
}
