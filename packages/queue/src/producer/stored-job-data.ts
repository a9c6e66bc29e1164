/*
 * Job data read back from Redis is input like any other: anyone with access to Redis (or an old
 * version, or a hand-made `XADD`/`HSET`) may have put there something that is not a job this code
 * made. Before a job is reported its data is checked, so that a job whose spec does not validate is
 * answered with a clear, typed error (BF_JOB_DATA_INVALID) instead of a crash deep in the status code.
 */
import { jobSpecSchema } from '../job-spec.js';

/** What is wrong with a job's stored data, in one line; undefined when it is a job's data. */
export function storedJobDataProblem(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'its data is not an object';
  const d = data as Record<string, unknown>;
  if (d.spec === undefined) return 'its data holds no job spec';
  const r = jobSpecSchema.safeParse(d.spec);
  if (!r.success) {
    const first = r.error.issues[0];
    const where = first && first.path.length > 0 ? `spec.${first.path.map(String).join('.')}` : 'spec';
    const more = r.error.issues.length > 1 ? ` (and ${r.error.issues.length - 1} more)` : '';
    return `its job spec is not valid: ${where}: ${first?.message ?? 'invalid'}${more}`;
  }
  if (typeof d.source !== 'string') return 'its data names no source';
  if (d.principal !== undefined && typeof d.principal !== 'string') return 'its principal is not a name';
  return undefined;
}

/** The principal recorded in job data of any shape (undefined when there is none, or it is not a name). */
export function storedPrincipal(data: unknown): string | undefined {
  const p = typeof data === 'object' && data !== null ? (data as { principal?: unknown }).principal : undefined;
  return typeof p === 'string' ? p : undefined;
}
