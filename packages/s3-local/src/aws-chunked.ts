/*
 * S3's `aws-chunked` request bodies, decoded and checked as S3 checks them:
 * - `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: `hex-size;chunk-signature=SIG\r\n DATA \r\n` … ending in a
 *   zero-size chunk; each chunk's signature chains from the previous one (the first from the
 *   request's seed signature) over `AWS4-HMAC-SHA256-PAYLOAD`, date, scope, previous signature,
 *   SHA-256 of '' and SHA-256 of the chunk. Every chunk but the last must hold at least 8 KiB.
 * - `…-PAYLOAD-TRAILER`: the same, then trailing headers (a checksum) signed over
 *   `AWS4-HMAC-SHA256-TRAILER` in `x-amz-trailer-signature`.
 * - `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: `hex-size\r\n DATA \r\n` …, `0\r\n`, trailing headers: what
 *   the SDK sends for streamed bodies when it adds a checksum.
 * The signatures are computed with the signing key of the SDK's signer (`sign`); the decoded bytes
 * must be `x-amz-decoded-content-length` long.
 */
import { createHash } from 'node:crypto';
import { S3FrontError } from './s3-error.js';

export type ChunkedMode = 'signed' | 'signed-trailer' | 'unsigned-trailer';

export interface ChunkSigning {
  seedSignature: string;
  /** X-Amz-Date of the request. */
  longDate: string;
  /** `date/region/s3/aws4_request`. */
  scope: string;
  /** HMAC of a string to sign with the request's signing key (hex). */
  sign(stringToSign: string): Promise<string>;
}

export interface DecodedChunks {
  data: Buffer;
  /** Trailing headers (lowercase names), without the trailer signature. */
  trailers: Map<string, string>;
  /** Data chunks (the zero-size final chunk not counted). */
  chunks: number;
}

/** The smallest chunk S3 accepts before the last one of a signed chunked upload. */
export const MIN_SIGNED_CHUNK = 8 * 1024;
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const MAX_LINE = 4096;

const sha256Hex = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

function incomplete(detail: string): S3FrontError {
  return new S3FrontError(400, 'IncompleteBody', `The request body is not well-formed aws-chunked data: ${detail}`);
}

function malformedTrailer(detail: string): S3FrontError {
  return new S3FrontError(400, 'MalformedTrailerError', `The request contained trailing data that was not well-formed or did not conform to our published schema (${detail}).`);
}

function chunkSignatureMismatch(which: string): S3FrontError {
  return new S3FrontError(403, 'SignatureDoesNotMatch', `The request signature we calculated does not match the signature you provided (${which}). Check your key and signing method.`);
}

export async function decodeAwsChunked(
  body: Buffer,
  options: { mode: ChunkedMode; decodedLength: number; trailerNames: readonly string[]; signing?: ChunkSigning },
): Promise<DecodedChunks> {
  const signed = options.mode !== 'unsigned-trailer';
  const signing = options.signing;
  if (signed && !signing) throw new Error('decodeAwsChunked: signed chunks need the request signing');
  let pos = 0;
  const readLine = (): string => {
    const end = body.indexOf('\r\n', pos, 'latin1');
    if (end < 0 || end - pos > MAX_LINE) throw incomplete(`no line end after byte ${pos}`);
    const line = body.toString('latin1', pos, end);
    pos = end + 2;
    return line;
  };
  const pieces: Buffer[] = [];
  const sizes: number[] = [];
  let previous = signing?.seedSignature ?? '';
  for (;;) {
    const header = readLine();
    const semicolon = header.indexOf(';');
    const sizeText = semicolon < 0 ? header : header.slice(0, semicolon);
    if (!/^[0-9a-fA-F]{1,16}$/.test(sizeText)) throw incomplete(`bad chunk size ${JSON.stringify(sizeText.slice(0, 20))}`);
    const size = parseInt(sizeText, 16);
    if (pos + size > body.length) throw incomplete(`chunk ${sizes.length + 1} claims ${size} bytes, ${body.length - pos} remain`);
    const data = body.subarray(pos, pos + size);
    pos += size;
    if (signed) {
      const extension = semicolon < 0 ? '' : header.slice(semicolon + 1);
      const m = /^chunk-signature=([0-9a-f]{64})$/.exec(extension);
      if (!m) throw incomplete(`chunk ${sizes.length + 1} carries no chunk-signature`);
      const stringToSign = ['AWS4-HMAC-SHA256-PAYLOAD', signing!.longDate, signing!.scope, previous, EMPTY_SHA256, sha256Hex(data)].join('\n');
      const expected = await signing!.sign(stringToSign);
      if (expected !== m[1]) throw chunkSignatureMismatch(`chunk ${sizes.length + 1}`);
      previous = m[1];
    }
    if (size === 0) break;
    pieces.push(data);
    sizes.push(size);
    if (body.toString('latin1', pos, pos + 2) !== '\r\n') throw incomplete(`chunk ${sizes.length} is not followed by CRLF`);
    pos += 2;
  }
  if (signed) {
    const small = sizes.findIndex((s, i) => s < MIN_SIGNED_CHUNK && i < sizes.length - 1);
    if (small >= 0) {
      throw new S3FrontError(400, 'InvalidChunkSizeError', 'Only the last chunk is allowed to have a size less than 8192 bytes', {
        Chunk: String(small + 1),
        BadChunkSize: String(sizes[small]),
      });
    }
  }

  const trailers = new Map<string, string>();
  const trailerLines: string[] = [];
  let trailerSignature: string | undefined;
  if (options.mode === 'signed') {
    if (readLine() !== '') throw incomplete('the final chunk is not followed by an empty line');
  } else {
    for (;;) {
      const line = readLine();
      if (line === '') break;
      const colon = line.indexOf(':');
      if (colon <= 0) throw malformedTrailer(`line ${JSON.stringify(line.slice(0, 40))}`);
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'x-amz-trailer-signature') trailerSignature = value;
      else {
        trailers.set(name, value);
        trailerLines.push(`${name}:${value}\n`);
      }
    }
    const declared = new Set(options.trailerNames);
    for (const name of trailers.keys()) if (!declared.has(name)) throw malformedTrailer(`${name} was not declared in x-amz-trailer`);
    for (const name of declared) if (!trailers.has(name)) throw malformedTrailer(`${name} was declared in x-amz-trailer but not sent`);
    if (options.mode === 'signed-trailer') {
      if (trailerSignature === undefined) throw malformedTrailer('x-amz-trailer-signature is missing');
      const stringToSign = ['AWS4-HMAC-SHA256-TRAILER', signing!.longDate, signing!.scope, previous, sha256Hex(trailerLines.join(''))].join('\n');
      if ((await signing!.sign(stringToSign)) !== trailerSignature) throw chunkSignatureMismatch('trailer');
    } else if (trailerSignature !== undefined) {
      throw malformedTrailer('an unsigned payload carries a trailer signature');
    }
  }
  if (pos !== body.length) throw incomplete(`${body.length - pos} bytes follow the end of the chunked data`);
  const data = Buffer.concat(pieces);
  if (data.length !== options.decodedLength) {
    throw new S3FrontError(400, 'IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header', {
      NumberBytesExpected: String(options.decodedLength),
      NumberBytesProvided: String(data.length),
    });
  }
  return { data, trailers, chunks: sizes.length };
}
