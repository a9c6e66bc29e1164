/*
 * Webhook bodies are read as raw bytes — the signature is over the exact bytes, so nothing is parsed
 * before it is checked — and, for GitHub, before anything authenticates them: the HMAC needs the whole
 * body. What an unauthenticated client can make the API hold is therefore bounded three ways:
 *
 * - per request: `limit` bytes (BUNDLEFARM_WEBHOOK_BODY_LIMIT; a larger Content-Length is refused before
 *   a byte is read);
 * - in time: the body must arrive within `timeoutMs` (BUNDLEFARM_WEBHOOK_BODY_TIMEOUT_MS);
 * - in total: all unauthenticated bodies being read share one budget (BUNDLEFARM_WEBHOOK_BUFFER_BUDGET).
 *   A body draws on it chunk by chunk, as its bytes arrive — never by its declared Content-Length,
 *   which costs a client nothing to send: sixteen idle connections each declaring a megabyte would
 *   otherwise hold the whole budget, send nothing, and starve every real delivery until they time out.
 *   A chunk the budget cannot cover fails its request with 503 and its connection is closed. Bytes are
 *   given back when the request's answer is sent (or it is aborted).
 *
 * So N slow connections hold at most the budget between them, plus what Node keeps per socket (its
 * read buffer, ~16 KiB, and the headers), not N × limit.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BodyTimeoutError, BodyTooLargeError, BusyError } from '../errors/http-errors.js';

export class BodyBudget {
  private used = 0;
  constructor(readonly total: number) {}

  /** Takes `n` bytes of the budget; false (nothing taken) when there are not that many left. */
  reserve(n: number): boolean {
    if (this.used + n > this.total) return false;
    this.used += n;
    return true;
  }

  release(n: number): void {
    this.used = Math.max(0, this.used - n);
  }

  get inUse(): number {
    return this.used;
  }
}

export interface RawBodyOptions {
  limit: number;
  timeoutMs: number;
  /** Shared by the routes whose bodies are read before they are authenticated (`config.unauthenticatedBody`). */
  budget: BodyBudget;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The body is read before the request is authenticated: it draws on the webhook buffer budget. */
    unauthenticatedBody?: boolean;
  }
}

/**
 * Raw-body reading for the webhook routes' plugin scope (the API keeps Fastify's JSON parser). `admit`
 * is for the onRequest hook of routes whose body draws on the budget (`config.unauthenticatedBody`).
 */
export class RawBodies {
  private readonly reserved = new WeakMap<FastifyRequest, number>();
  /** Requests whose body was refused: their connection is cut once the answer is sent. */
  private readonly refused = new WeakSet<FastifyRequest>();

  constructor(private readonly options: RawBodyOptions) {}

  /**
   * Before the body is read: refuses a declared length over the limit (413), unread. Nothing is taken
   * from the budget for a declaration: the body's bytes draw on it as they come. Throws the error to
   * answer with.
   */
  admit(request: FastifyRequest): void {
    const declared = Number(request.headers['content-length']);
    if (!Number.isFinite(declared) || declared < 0) return;
    if (declared > this.options.limit) this.refuse(request, new BodyTooLargeError(this.options.limit));
  }

  /** Marks `request` so its connection is closed after the answer, and throws `err`. */
  refuse(request: FastifyRequest, err: Error): never {
    this.refused.add(request);
    throw err;
  }

  install(scope: FastifyInstance): void {
    const { options, reserved, refused } = this;
    const giveBack = (request: FastifyRequest): void => {
      const n = reserved.get(request);
      if (n !== undefined) {
        options.budget.release(n);
        reserved.delete(request);
      }
    };
    scope.addHook('onResponse', async (request) => {
      giveBack(request);
      // a request refused before or while its body came is not read on: the client is cut off
      if (refused.has(request)) request.raw.destroy();
    });
    scope.addHook('onRequestAbort', async (request) => giveBack(request));

    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (request, payload, done) => {
      const budgeted = request.routeOptions.config?.unauthenticatedBody === true;
      const declared = Number(request.headers['content-length']);
      if (Number.isFinite(declared) && declared > options.limit) {
        refused.add(request);
        done(new BodyTooLargeError(options.limit), undefined);
        return;
      }
      /** Bytes that need no budget: all of them for an authenticated route, none for the others. */
      const covered = budgeted ? 0 : Infinity;
      const chunks: Buffer[] = [];
      let size = 0;
      let finished = false;
      const finish = (err: Error | null, body?: Buffer): void => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        payload.off('data', onData);
        payload.off('end', onEnd);
        payload.off('error', onError);
        if (err) {
          refused.add(request);
          chunks.length = 0;
          giveBack(request);
          done(err, undefined);
        } else {
          done(null, body);
        }
      };
      const onData = (chunk: Buffer): void => {
        if (size + chunk.length > options.limit) return finish(new BodyTooLargeError(options.limit));
        if (size + chunk.length > covered) {
          // each chunk of an unauthenticated body draws on the budget as it comes
          const more = size + chunk.length - Math.max(covered, size);
          if (!options.budget.reserve(more)) {
            request.log.warn({ budget: options.budget.total }, 'webhook body refused: the buffer budget for unauthenticated bodies is used up');
            return finish(new BusyError('too many webhook bodies are being received at once'));
          }
          reserved.set(request, (reserved.get(request) ?? 0) + more);
        }
        size += chunk.length;
        chunks.push(chunk);
      };
      const onEnd = (): void => finish(null, Buffer.concat(chunks, size));
      const onError = (err: Error): void => finish(err);
      const timer = setTimeout(() => finish(new BodyTimeoutError(options.timeoutMs)), options.timeoutMs);
      timer.unref();
      payload.on('data', onData);
      payload.on('end', onEnd);
      payload.on('error', onError);
    });
  }
}
