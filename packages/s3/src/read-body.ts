import { Readable } from 'node:stream';

/**
 * Reads a GetObject body into one Buffer, refusing (and dropping the connection) as soon as it passes
 * `limit` bytes, whatever Content-Length claimed. `tooLarge` builds the error to throw then.
 */
export async function readBody(body: unknown, limit: number, tooLarge: (seen: number) => Error): Promise<Buffer> {
  const stream = asReadable(body);
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      total += b.length;
      if (total > limit) throw tooLarge(total);
      chunks.push(b);
    }
  } finally {
    stream.destroy();
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}

/** In Node the SDK's streaming bodies are IncomingMessages (Readables with SDK helpers mixed in). */
export function asReadable(body: unknown): Readable {
  if (body instanceof Readable) return body;
  throw new TypeError('S3 response has no Node.js stream body (is this running outside Node.js?)');
}
