import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isBundlefarmError, type BundlefarmError } from '@bundlefarm/errors';
import type { SpecProblem } from '@bundlefarm/queue';
import type { ErrorBody } from '../openapi/api-schemas.js';
import {
  BadRequestError,
  BodyTooLargeError,
  InternalError,
  MalformedJsonError,
  RouteNotFoundError,
  TooManyAttemptsError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from './http-errors.js';
import { httpStatusOf } from './status-registry.js';

/** Errors after which the connection is closed rather than kept: the client was sending a body we no longer read. */
const CLOSING_CODES = new Set(['BF_BODY_TOO_LARGE', 'BF_BODY_TIMEOUT', 'BF_BUSY']);

/**
 * One error shape for every response: `{ error: CODE, message, problems?, details? }`, the status from
 * the code (status-registry.ts). Fastify's own errors (body too large, bad JSON, unsupported media type)
 * are given bundlefarm codes; anything unexpected is a 500 whose message says nothing about internals.
 */
export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
}

/** Fastify's content-type-parser errors as bundlefarm errors. */
function fromFastifyError(err: FastifyError, bodyLimit: number, contentType: string | undefined): BundlefarmError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new BodyTooLargeError(bodyLimit);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new UnsupportedMediaTypeError(contentType, 'application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new MalformedJsonError('the body is empty');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new MalformedJsonError(err.message);
    default:
      break;
  }
  if (err instanceof SyntaxError || err.name === 'SyntaxError') return new MalformedJsonError(err.message);
  const status = err.statusCode ?? 0;
  if (status >= 400 && status < 500) return new BadRequestError(err.message);
  return undefined;
}

export function toErrorResponse(err: unknown, bodyLimit: number, contentType?: string): ErrorResponse {
  let known: BundlefarmError;
  let status: number;
  if (isBundlefarmError(err)) {
    known = err;
    status = httpStatusOf(err.code, err.transient);
  } else {
    const mapped = fromFastifyError(err as FastifyError, bodyLimit, contentType);
    known = mapped ?? new InternalError();
    // a 4xx Fastify error without a code of its own keeps Fastify's status
    status = mapped instanceof BadRequestError ? ((err as FastifyError).statusCode ?? 400) : httpStatusOf(known.code, known.transient);
  }
  const body: ErrorBody = { error: known.code, message: known.message };
  const problems = (known as { problems?: unknown }).problems;
  if (Array.isArray(problems)) body.problems = problems.map((p: SpecProblem) => ({ path: p.path, message: p.message }));
  const details = Object.fromEntries(Object.entries(known.details ?? {}).filter(([, v]) => v !== undefined)) as Record<string, string | number | boolean | null>;
  if (Object.keys(details).length > 0) body.details = details;
  const headers: Record<string, string> = {};
  if (known instanceof UnauthorizedError) headers['www-authenticate'] = known.challenge;
  if (status === 503) headers['retry-after'] = '5';
  if (known instanceof TooManyAttemptsError) headers['retry-after'] = String(known.retryAfterSeconds);
  // a body refused half-way: the rest is not read, the connection not kept
  if (CLOSING_CODES.has(known.code)) headers.connection = 'close';
  return { status, body, headers };
}

export function installErrorHandling(app: FastifyInstance, bodyLimit: number): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const limit = request.routeOptions?.bodyLimit ?? bodyLimit;
    const { status, body, headers } = toErrorResponse(err, limit, request.headers['content-type']);
    if (status >= 500) request.log.error({ err, code: body.error }, 'request failed');
    else request.log.info({ code: body.error, status }, 'request refused');
    return reply.code(status).headers(headers).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? request.url;
    const { status, body } = toErrorResponse(new RouteNotFoundError(request.method, path), bodyLimit);
    return reply.code(status).send(body);
  });
}
