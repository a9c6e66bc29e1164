/*
 * The body checks S3 makes once it has a request's bytes: the signed payload hash
 * (`x-amz-content-sha256`, XAmzContentSHA256Mismatch), `Content-MD5` (InvalidDigest when it is not a
 * base64 MD5, BadDigest when it is another body's) and the flexible checksums (`x-amz-checksum-crc32`,
 * `-crc32c`, `-crc64nvme`, `-sha1`, `-sha256`, in a header or an aws-chunked trailer; BadDigest
 * "The CRC32 you specified did not match the calculated checksum."). The checksums are computed with
 * the AWS SDK's own implementations.
 */
import { createHash } from 'node:crypto';
import { Crc32c, Crc64Nvme } from '@aws-sdk/checksums/crc';
import { Sha1 } from '@aws-sdk/checksums/sha';
import { Crc32, Sha256 } from '@smithy/core/checksum';
import type { Checksum } from '@smithy/types';
import { S3FrontError, s3Errors } from './s3-error.js';

const ALGORITHMS: Record<string, { name: string; bytes: number; make: () => Checksum }> = {
  'x-amz-checksum-crc32': { name: 'CRC32', bytes: 4, make: () => new Crc32() },
  'x-amz-checksum-crc32c': { name: 'CRC32C', bytes: 4, make: () => new Crc32c() },
  'x-amz-checksum-crc64nvme': { name: 'CRC64NVME', bytes: 8, make: () => new Crc64Nvme() },
  'x-amz-checksum-sha1': { name: 'SHA1', bytes: 20, make: () => new Sha1() },
  'x-amz-checksum-sha256': { name: 'SHA256', bytes: 32, make: () => new Sha256() },
};

export const CHECKSUM_HEADERS: readonly string[] = Object.keys(ALGORITHMS);

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function base64Bytes(text: string): Buffer | undefined {
  if (!BASE64.test(text) || text.length % 4 !== 0) return undefined;
  return Buffer.from(text, 'base64');
}

/** A body's MD5 (base64, as Content-MD5) and SHA-256 (hex, as x-amz-content-sha256). */
export interface BodyDigests {
  md5: string;
  sha256: string;
}

/**
 * Digests a body piece by piece as it arrives: a 10 MiB part hashed in one go would hold the event
 * loop (shared with whatever else runs in the process, an API under test say) for tens of milliseconds.
 */
export class BodyDigester {
  private readonly md5 = createHash('md5');
  private readonly sha256 = createHash('sha256');

  update(piece: Buffer): void {
    this.md5.update(piece);
    this.sha256.update(piece);
  }

  digests(): BodyDigests {
    return { md5: this.md5.digest('base64'), sha256: this.sha256.digest('hex') };
  }
}

export function digestsOf(data: Buffer): BodyDigests {
  const d = new BodyDigester();
  d.update(data);
  return d.digests();
}

/** The hex SHA-256 the request declared must be the body's (when it declared one). */
export function checkPayloadHash(declared: string | undefined, body: BodyDigests): void {
  if (declared === undefined || !/^[0-9a-f]{64}$/.test(declared)) return;
  const computed = body.sha256;
  if (computed !== declared) {
    throw new S3FrontError(400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", {
      ClientComputedContentSHA256: declared,
      S3ComputedContentSHA256: computed,
    });
  }
}

export function checkContentMd5(header: string | undefined, body: BodyDigests): void {
  if (header === undefined) return;
  const digest = base64Bytes(header.trim());
  if (digest?.length !== 16) throw new S3FrontError(400, 'InvalidDigest', 'The Content-MD5 you specified was invalid.', { 'Content-MD5': header });
  const computed = body.md5;
  if (computed !== digest.toString('base64')) {
    throw new S3FrontError(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.', { ExpectedDigest: header, CalculatedDigest: computed });
  }
}

/**
 * Checks the one flexible checksum a request carries, from its headers or its trailers, and that
 * `x-amz-sdk-checksum-algorithm` (when sent) names it. Returns the algorithm checked, if any.
 */
export async function checkFlexibleChecksum(
  headers: Readonly<Record<string, string>>,
  trailers: ReadonlyMap<string, string>,
  body: Buffer,
): Promise<string | undefined> {
  const sent = CHECKSUM_HEADERS.flatMap((name) => {
    const value = trailers.get(name) ?? headers[name];
    return value !== undefined ? [[name, value] as const] : [];
  });
  const declaredAlgorithm = headers['x-amz-sdk-checksum-algorithm'];
  if (sent.length === 0) return undefined;
  if (sent.length > 1) throw s3Errors.invalidRequest('Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  const [name, value] = sent[0]!;
  const algorithm = ALGORITHMS[name]!;
  if (declaredAlgorithm !== undefined && declaredAlgorithm.toUpperCase() !== algorithm.name) {
    throw s3Errors.invalidRequest(`Value for x-amz-sdk-checksum-algorithm header is invalid: ${declaredAlgorithm} does not name the ${name} sent.`);
  }
  const expected = base64Bytes(value);
  if (expected?.length !== algorithm.bytes) throw s3Errors.invalidRequest(`Value for ${name} header is invalid.`);
  const hash = algorithm.make();
  hash.update(body);
  const computed = Buffer.from(await hash.digest());
  if (!computed.equals(expected)) {
    throw new S3FrontError(400, 'BadDigest', `The ${algorithm.name} you specified did not match the calculated checksum.`);
  }
  return algorithm.name;
}
