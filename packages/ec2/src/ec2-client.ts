/**
 * Builds an EC2 client from checked settings. No logger (the SDK then logs nothing, so no request or
 * signature reaches a log); timeouts through the SDK's own request handler options; the SDK's standard
 * retry mode (throttling, 5xx and network errors retried `maxAttempts` times with backoff).
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { checkEc2Settings, type Ec2Settings } from './ec2-settings.js';

export function createEc2Client(settings: Ec2Settings): EC2Client {
  const s = checkEc2Settings(settings);
  return new EC2Client({
    region: s.region,
    ...(s.endpoint !== undefined ? { endpoint: s.endpoint } : {}),
    ...(s.credentials !== undefined ? { credentials: { ...s.credentials } } : {}),
    maxAttempts: s.maxAttempts,
    requestHandler: {
      connectionTimeout: s.connectionTimeoutMs,
      requestTimeout: s.requestTimeoutMs,
      throwOnRequestTimeout: true,
    },
  });
}
