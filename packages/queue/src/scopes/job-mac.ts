/*
 * The job MAC: HMAC-SHA256, with a key the API and the workers share and Redis never sees
 * (BUNDLEFARM_JOB_MAC_KEY), over what makes a job what it is — its id, spec, principal, source,
 * webhook delivery and origin (the repository and commit a commit status goes to). The API adds it
 * when it enqueues; a worker with the key runs no job whose MAC is
 * missing or wrong. So whoever can write to Redis (or use Bull Board's add/edit) cannot make a worker
 * sign something, nor pass a job off as another principal's or as a GitHub delivery. Not covered:
 * `completedRegions` (the workers' own record of published regions, rewritten as they publish).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';

export interface JobMacFields {
  id: string;
  spec: unknown;
  principal?: string | undefined;
  source: string;
  delivery?: string | undefined;
  /** Left out of the MAC text when absent, so MACs of jobs without one are what they always were. */
  origin?: unknown;
}

export const MIN_JOB_MAC_KEY_LENGTH = 32;
const VERSION = 'v1';

export function jobMac(key: Buffer, f: JobMacFields): string {
  const text = canonicalJson({ v: VERSION, id: f.id, spec: f.spec, principal: f.principal, source: f.source, delivery: f.delivery, origin: f.origin });
  return `${VERSION}:${createHmac('sha256', key).update(text, 'utf8').digest('hex')}`;
}

export function jobMacValid(key: Buffer, f: JobMacFields, mac: unknown): boolean {
  if (typeof mac !== 'string' || !/^v1:[0-9a-f]{64}$/.test(mac)) return false;
  const expected = Buffer.from(jobMac(key, f).slice(3), 'hex');
  return timingSafeEqual(expected, Buffer.from(mac.slice(3), 'hex'));
}

/** The key from its configured text (at least 32 characters; `openssl rand -hex 32`). */
export function jobMacKey(text: string): Buffer {
  if (text.length < MIN_JOB_MAC_KEY_LENGTH) throw new Error(`must have at least ${MIN_JOB_MAC_KEY_LENGTH} characters`);
  return Buffer.from(text, 'utf8');
}
