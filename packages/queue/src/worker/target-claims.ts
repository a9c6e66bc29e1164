/*
 * One job at a time per target. S3 cannot rename, so two jobs bundling the same NAME into the same
 * bucket and prefix write the very same keys: their parts would overwrite each other, and the manifest
 * published first could name the other job's parts (or be overwritten by the other's manifest, a job
 * that never asked to replace it). Looking at S3 first cannot prevent that — both look before either
 * writes — so the workers take a claim in Redis (the one thing they all share) on each target
 * (`bucket`, `PREFIX/NAME`) before they write anything there, and hold it while the job runs.
 *
 * A claim is `SET key <job mark> PX ttl`, taken or renewed for all of a job's targets at once (a Lua
 * script: all or none), renewed every ttl/2 while the job runs, and deleted when the job ends — only
 * by the job that holds it. Every attempt of one job carries the same mark (see jobOwner), so a retry,
 * or the worker that took a job over after a crash, takes the claim over too; a claim whose worker died
 * lapses after its ttl. A job that finds a target claimed by another waits (see the processor) and
 * looks again later: it never writes beside the other job.
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from '../redis-connection.js';
import { checkKeyPrefix } from '@bundlefarm/s3';

export interface ClaimTarget {
  bucket: string;
  prefix: string;
}

export type ClaimOutcome = { held: true } | { held: false; holder: string; target: string };

/** KEYS: claim keys; ARGV: mark, ttl ms. Returns {} when taken, else {index, holder}. */
const TAKE = `
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder and holder ~= ARGV[1] then return {i, holder} end
end
for _, key in ipairs(KEYS) do redis.call('SET', key, ARGV[1], 'PX', ARGV[2]) end
return {}
`;

/** KEYS: claim keys; ARGV: mark. Deletes those the mark holds. */
const RELEASE = `
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 0
`;

export class TargetClaims {
  constructor(
    private readonly redis: RedisClient,
    /** The queue's key prefix (a Redis Cluster hash tag in it keeps every claim in the queue's slot). */
    private readonly prefix: string,
  ) {}

  /** The Redis key of the claim on `NAME` under a target. */
  key(target: ClaimTarget, bundleName: string): string {
    const place = `${target.bucket}\0${checkKeyPrefix(target.prefix)}${bundleName}`;
    return `${this.prefix}:bundles:claim:${createHash('sha256').update(place).digest('hex')}`;
  }

  /** Takes (or renews) the claims on all `targets` for `mark`, or none when another mark holds one. */
  async take(mark: string, targets: readonly ClaimTarget[], bundleName: string, ttlMs: number): Promise<ClaimOutcome> {
    const keys = targets.map((t) => this.key(t, bundleName));
    const out = (await this.redis.eval(TAKE, keys.length, ...keys, mark, String(Math.max(1000, Math.round(ttlMs))))) as [number, string] | [];
    if (out.length === 0) return { held: true };
    const t = targets[out[0] - 1]!;
    return { held: false, holder: out[1], target: `s3://${t.bucket}/${checkKeyPrefix(t.prefix)}${bundleName}` };
  }

  /** Gives up the claims `mark` holds on `targets` (others' are left alone). */
  async release(mark: string, targets: readonly ClaimTarget[], bundleName: string): Promise<void> {
    const keys = targets.map((t) => this.key(t, bundleName));
    if (keys.length > 0) await this.redis.eval(RELEASE, keys.length, ...keys, mark);
  }
}
