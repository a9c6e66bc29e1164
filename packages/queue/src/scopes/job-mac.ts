/*
 * The job MAC: HMAC-SHA256, with a key the API and the workers share and Redis never sees
 * (BUNDLEFARM_JOB_MAC_KEY), over what makes a job what it is — its id, spec, principal, source,
 * webhook delivery, origin (the repository and commit a commit status goes to) and issue time. The API
 * adds it when it enqueues; a worker with the key runs no job whose MAC is
 * missing or wrong. So whoever can write to Redis (or use Bull Board's add/edit) cannot make a worker
 * sign something, nor pass a job off as another principal's or as a GitHub delivery. Not covered:
 * `completedRegions` (the workers' own record of published regions, rewritten as they publish).
 *
 * The issue time (`issuedAt`, set by the producer, renewed by an API retry of a job whose MAC holds)
 * bounds replays: a finished job's data re-added to Redis carries a valid MAC forever, so a worker
 * refuses a job issued longer ago than its maximum age (BUNDLEFARM_JOB_MAX_AGE, worker/job-max-age.ts)
 * or too far in the future (JOB_CLOCK_SKEW_MS), and, with the key, a job without an issue time.
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
  /** When the job was issued (ms since the epoch); left out of the MAC text when absent, like `origin`. */
  issuedAt?: unknown;
}

/** The MAC'd fields of a job's data as read back from Redis (whatever their types: the MAC decides). */
export function jobMacFields(id: string, data: Record<string, unknown> | undefined): JobMacFields {
  const d = data ?? {};
  return {
    id,
    spec: d.spec,
    principal: typeof d.principal === 'string' ? d.principal : undefined,
    source: typeof d.source === 'string' ? d.source : JSON.stringify(d.source ?? ''),
    delivery: typeof d.delivery === 'string' ? d.delivery : undefined,
    origin: d.origin,
    issuedAt: d.issuedAt,
  };
}

/** How far in the future a job's issue time may be (clocks of the API and the workers differ a little). */
export const JOB_CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Why a job issued at `issuedAt` may not run at `now` (undefined: it may): not a time, older than
 * `maxAgeMs`, or more than JOB_CLOCK_SKEW_MS in the future.
 */
export function jobIssueProblem(issuedAt: unknown, now: number, maxAgeMs: number): string | undefined {
  if (typeof issuedAt !== 'number' || !Number.isSafeInteger(issuedAt) || issuedAt < 0) return 'its issue time is not a time';
  const at = new Date(issuedAt).toISOString();
  if (issuedAt - now > JOB_CLOCK_SKEW_MS) return `it was issued at ${at}, in the future (more than ${JOB_CLOCK_SKEW_MS / 60_000} minutes ahead of this worker's clock)`;
  if (now - issuedAt > maxAgeMs) {
    return `it was issued at ${at}, longer ago than the maximum job age (${maxAgeMs / 1000} s, BUNDLEFARM_JOB_MAX_AGE): a replay of an old job? Enqueue it again`;
  }
  return undefined;
}

export const MIN_JOB_MAC_KEY_LENGTH = 32;
const VERSION = 'v1';

export function jobMac(key: Buffer, f: JobMacFields): string {
  const text = canonicalJson({ v: VERSION, id: f.id, spec: f.spec, principal: f.principal, source: f.source, delivery: f.delivery, origin: f.origin, issuedAt: f.issuedAt });
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
