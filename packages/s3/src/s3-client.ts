import { S3Client } from '@aws-sdk/client-s3';
import { checkS3Settings, type S3Settings } from './s3-settings.js';

/**
 * Builds an S3 client from checked settings.
 *
 * - Checksums `WHEN_REQUIRED` only: since SDK 3.729 the default sends streamed bodies aws-chunked with
 *   a CRC32 trailer, which stores without that support (s3rver, older MinIO/Ceph) keep verbatim inside
 *   the object — silently corrupted data (seen: 3 MiB uploaded, 3 MiB + 46 bytes stored). Integrity
 *   comes from Content-MD5 instead, which every S3 implementation understands and which is what
 *   ec2-upload-bundle sends.
 * - Timeouts go to the SDK's NodeHttpHandler through its options object (the SDK builds the handler
 *   itself, so this package need not depend on @smithy/node-http-handler directly);
 *   `throwOnRequestTimeout` makes an expired request a retryable TimeoutError instead of a warning.
 * - No logger: the SDK then logs nothing, so no request (and no signature) ends up in logs.
 */
export function createS3Client(settings: S3Settings): S3Client {
  const s = checkS3Settings(settings);
  return new S3Client({
    region: s.region,
    ...(s.endpoint !== undefined ? { endpoint: s.endpoint } : {}),
    forcePathStyle: s.forcePathStyle,
    ...(s.credentials !== undefined ? { credentials: { ...s.credentials } } : {}),
    maxAttempts: s.maxAttempts,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: s.connectionTimeoutMs,
      requestTimeout: s.requestTimeoutMs,
      throwOnRequestTimeout: true,
      socketTimeout: s.socketTimeoutMs,
      httpAgent: { keepAlive: true, maxSockets: s.maxSockets },
      httpsAgent: { keepAlive: true, maxSockets: s.maxSockets },
    },
  });
}
