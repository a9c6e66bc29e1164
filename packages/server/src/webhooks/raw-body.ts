import type { FastifyInstance } from 'fastify';

/**
 * Webhook bodies are read as raw bytes (up to `limit`), whatever their content type: the signature is
 * over the exact bytes sent, so they must be checked before any parsing. Registered inside the
 * webhook routes' own plugin scope only; the API keeps Fastify's JSON parser.
 */
export function useRawBodies(scope: FastifyInstance, limit: number): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: limit }, (_request, body, done) => {
    done(null, body);
  });
}

/**
 * The payload of a verified webhook body: JSON, or GitHub's form encoding (`payload=<json>`).
 * Undefined when it is neither.
 */
export function parseWebhookPayload(raw: Buffer, contentType: string | undefined): unknown {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  try {
    if (type === 'application/x-www-form-urlencoded') {
      const payload = new URLSearchParams(raw.toString('utf8')).get('payload');
      return payload === null ? undefined : JSON.parse(payload);
    }
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}
