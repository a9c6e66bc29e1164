/*
 * The signature of a notification: `X-Bundlefarm-Signature: sha256=HEX`, the HMAC-SHA256 of the raw
 * request body with the endpoint's secret — the scheme of GitHub's X-Hub-Signature-256, so receivers can
 * reuse their code. A receiver computes the HMAC over the bytes it received (before parsing them) and
 * compares in constant time (`verifyNotificationSignature`).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-bundlefarm-signature';
export const DELIVERY_HEADER = 'x-bundlefarm-delivery';
export const EVENT_HEADER = 'x-bundlefarm-event';

export function notificationSignature(secret: Buffer | string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Whether `header` is the signature of `body` with `secret` (constant time). */
export function verifyNotificationSignature(secret: Buffer | string, body: Buffer | string, header: string | undefined): boolean {
  if (header === undefined || !/^sha256=[0-9a-f]{64}$/.test(header)) return false;
  const expected = Buffer.from(notificationSignature(secret, body).slice(7), 'hex');
  return timingSafeEqual(expected, Buffer.from(header.slice(7), 'hex'));
}
