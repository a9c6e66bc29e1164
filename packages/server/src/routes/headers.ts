import type { FastifyRequest } from 'fastify';

/** A request header as one string (the first, when sent several times); undefined when absent or empty. */
export function firstHeader(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name.toLowerCase()];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}
