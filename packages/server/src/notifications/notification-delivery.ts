/*
 * One attempt at one delivery: the notice as JSON with its delivery id, POSTed to the endpoint, signed
 * (notification-signature.ts), with a timeout; redirects are not followed. Any 2xx answer delivers it;
 * anything else (or no answer) is an attempt that failed, retried by the notifier with backoff. The
 * outcome names the endpoint by its host only: a URL may carry a token in its path.
 */

import type { NotificationPayload } from '@bundlefarm/queue';
import { DELIVERY_HEADER, EVENT_HEADER, notificationSignature, SIGNATURE_HEADER } from './notification-signature.js';
import type { WebhookTarget } from './notify-targets.js';

export interface AttemptOutcome {
  ok: boolean;
  /** HTTP status, when there was an answer. */
  status?: number;
  /** Why it failed (no secret, no URL path). */
  reason?: string;
}

export const USER_AGENT = 'bundlefarm-notifier/1';

export async function deliverNotification(target: WebhookTarget, notice: NotificationPayload, delivery: string, timeoutMs: number): Promise<AttemptOutcome> {
  const body = Buffer.from(JSON.stringify({ ...notice, delivery }), 'utf8');
  return post(target.url, body, timeoutMs, {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    [SIGNATURE_HEADER]: notificationSignature(target.secret, body),
    [DELIVERY_HEADER]: delivery,
    [EVENT_HEADER]: notice.event,
  });
}

/** A POST with a timeout whose answer body is read and dropped; never throws. */
export async function post(url: string, body: Buffer | string, timeoutMs: number, headers: Record<string, string>): Promise<AttemptOutcome> {
  try {
    const res = await fetch(url, { method: 'POST', body, headers, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer().catch(() => undefined);
    return res.ok ? { ok: true, status: res.status } : { ok: false, status: res.status, reason: `HTTP ${res.status}` };
  } catch (err) {
    const e = err as { name?: string; cause?: { code?: string }; message?: string };
    const reason = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.name ?? 'request failed');
    return { ok: false, reason };
  }
}

/** The host an endpoint is named by in logs and records. */
export function endpointHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid URL)';
  }
}

