/**
 * Job ids. BullMQ deduplicates on the job id: adding a job whose id exists adds nothing. Producers
 * derive ids from what makes a request unique — a webhook's delivery id, a client's Idempotency-Key —
 * so a redelivery or a retried request finds the job it already made. Without one, ids are random.
 *
 * Rules (BullMQ's and ours): 1–200 characters of letters, digits, `.`, `_` and `-`, starting with a
 * letter or digit, not all digits (BullMQ reserves integer ids for its own counter), no `:` (BullMQ's
 * key separator).
 */
import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';

export const jobIdSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be letters, digits, ".", "_" and "-", starting with a letter or digit')
  .refine((s) => !/^\d+$/.test(s), 'must not be a plain number');

export function isJobId(value: string): boolean {
  return jobIdSchema.safeParse(value).success;
}

export function randomJobId(): string {
  return randomUUID();
}

/**
 * A job id from an external delivery id (`github`, `X-GitHub-Delivery` → `github-<delivery>`). Delivery
 * ids that are not usable as they are (too long, odd characters) are replaced by their SHA-256, so the
 * mapping stays deterministic.
 */
export function deliveryJobId(source: string, delivery: string): string {
  const candidate = `${source}-${delivery}`;
  return isJobId(candidate) ? candidate : `${source}-${createHash('sha256').update(delivery).digest('hex')}`;
}

/**
 * Redis key under which the producer remembers that `kind`/`value` (a job id, a webhook body digest)
 * already made a job, for `ttl` seconds after the job itself may have been trimmed. Inside the queue's
 * prefix, so a Redis Cluster hash tag in the prefix keeps it in the queue's slot.
 */
export function ledgerKey(prefix: string, queue: string, kind: 'id' | 'replay' | 'hook', value: string): string {
  const digest = createHash('sha256').update(value).digest('hex');
  return `${prefix}:${queue}:ledger:${kind}:${digest}`;
}
