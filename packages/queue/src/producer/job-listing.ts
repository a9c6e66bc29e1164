/*
 * Jobs as a list: GET /v1/bundles. Newest first (by the time they were enqueued), filtered by state and
 * by who may see them, a page at a time with an opaque cursor. BullMQ keeps jobs in one list or set per
 * state, none ordered by creation across states, so a page is made by reading the ids of the states
 * asked for and their enqueue times (one pipelined round trip), sorting them, and then reading whole
 * jobs only until the page is full. Jobs are trimmed (jobOptions: 1000 completed, 5000 failed kept), so
 * the id scan stays bounded.
 */
import { Job, type JobType, type Queue } from 'bullmq';
import type { RedisClient } from '../redis-connection.js';
import type { BundleJobData, BundleJobProgress, BundleJobResult } from '../job-types.js';
import { parseFailure, reportedState, type BundleFailure, type BundleState } from './bundle-status.js';
import { InvalidCursorError } from './producer-errors.js';
import { storedJobDataProblem, storedPrincipal } from './stored-job-data.js';

/** States a list may be filtered by. */
export const LIST_STATES = ['waiting', 'delayed', 'prioritized', 'waiting-children', 'active', 'completed', 'failed', 'cancelled'] as const;
export type ListState = (typeof LIST_STATES)[number];

export const DEFAULT_LIST_LIMIT = 20;
export const MAX_LIST_LIMIT = 100;

export interface ListOptions {
  /** Only jobs in these states (default: every state). */
  states?: readonly ListState[];
  /** Jobs per page, 1–100 (default 20). */
  limit?: number;
  /** `nextCursor` of the previous page; none for the first. */
  cursor?: string;
  /** Whether the caller may see a job enqueued by `owner` (the principal recorded in it); default: all. */
  visible?: (owner: string | undefined) => boolean;
}

/** One job in a list: enough to pick one and ask GET /v1/bundles/:id for the rest. */
export interface JobSummary {
  id: string;
  name: string;
  state: BundleState;
  finished: boolean;
  source: string;
  principal?: string;
  /** Regions of the spec, in its order. */
  regions: string[];
  /** Latest progress percent (null before a worker reported any). */
  percent: number | null;
  stage: BundleJobProgress['stage'] | null;
  /** Why it failed or was cancelled; BF_JOB_DATA_INVALID for a job whose stored data is not a job's. */
  error: BundleFailure | null;
  createdAt: string;
  finishedAt: string | null;
}

export interface JobPage {
  jobs: JobSummary[];
  /** Pass as `cursor` for the next page; null when this is the last. */
  nextCursor: string | null;
}

interface Candidate {
  id: string;
  type: JobType;
  timestamp: number;
}

/** BullMQ's list (or set) holding the jobs of each listed state. */
const TYPES: Record<ListState, JobType[]> = {
  waiting: ['waiting'],
  delayed: ['delayed'],
  prioritized: ['prioritized'],
  'waiting-children': ['waiting-children'],
  active: ['active'],
  completed: ['completed'],
  failed: ['failed'],
  cancelled: ['failed'],
};

const STATE_OF_TYPE: Partial<Record<JobType, BundleState>> = { wait: 'waiting' };

export async function listJobs(queue: Queue<BundleJobData, BundleJobResult>, redis: RedisClient, options: ListOptions): Promise<JobPage> {
  const states = new Set<ListState>(options.states && options.states.length > 0 ? options.states : LIST_STATES);
  const limit = Math.min(MAX_LIST_LIMIT, Math.max(1, Math.floor(options.limit ?? DEFAULT_LIST_LIMIT)));
  const after = options.cursor !== undefined ? decodeCursor(options.cursor) : undefined;
  const visible = options.visible ?? (() => true);

  const types = [...new Set([...states].flatMap((s) => TYPES[s]))];
  const seen = new Set<string>();
  const ids: Array<{ id: string; type: JobType }> = [];
  for (const type of types) {
    for (const id of await queue.getRanges([type], 0, -1)) {
      if (seen.has(id)) continue;
      seen.add(id);
      ids.push({ id, type });
    }
  }
  const pipeline = redis.pipeline();
  for (const { id } of ids) pipeline.hget(queue.toKey(id), 'timestamp');
  const stamps = ids.length > 0 ? ((await pipeline.exec()) ?? []) : [];
  const candidates: Candidate[] = ids
    .map(({ id, type }, i) => ({ id, type, timestamp: Number(stamps[i]?.[1] ?? 0) || 0 }))
    .filter((c) => after === undefined || before(c, after))
    .sort((a, b) => (a.timestamp !== b.timestamp ? b.timestamp - a.timestamp : a.id < b.id ? 1 : a.id > b.id ? -1 : 0));

  const jobs: JobSummary[] = [];
  const last: Candidate[] = [];
  const chunk = Math.min(MAX_LIST_LIMIT, limit + 1);
  for (let i = 0; i < candidates.length && jobs.length <= limit; i += chunk) {
    const slice = candidates.slice(i, i + chunk);
    const read = await Promise.all(slice.map((c) => Job.fromId<BundleJobData, BundleJobResult>(queue, c.id)));
    slice.forEach((c, k) => {
      const job = read[k];
      if (!job || jobs.length > limit) return; // removed meanwhile
      const summary = summarize(job, STATE_OF_TYPE[c.type] ?? (c.type as BundleState));
      if (!states.has(summary.state as ListState) || !visible(summary.principal)) return;
      jobs.push(summary);
      last.push(c);
    });
  }
  if (jobs.length <= limit) return { jobs, nextCursor: null };
  return { jobs: jobs.slice(0, limit), nextCursor: encodeCursor(last[limit - 1]!) };
}

/** The summary of a job, whatever its stored data holds. */
export function summarize(job: Job<BundleJobData, BundleJobResult>, bullState: BundleState): JobSummary {
  const state = reportedState(bullState, job.failedReason);
  const data: unknown = job.data;
  const problem = storedJobDataProblem(data);
  const principal = storedPrincipal(data);
  const progress = job.progress as Partial<BundleJobProgress> | number | null;
  const percent = typeof progress === 'object' && progress !== null && typeof progress.percent === 'number' ? progress.percent : null;
  const stage = typeof progress === 'object' && progress !== null && typeof progress.stage === 'string' ? progress.stage : null;
  const finished = state === 'completed' || state === 'failed' || state === 'cancelled';
  const error: BundleFailure | null =
    problem !== undefined ? { code: 'BF_JOB_DATA_INVALID', message: `the job cannot be read: ${problem}` } : state === 'completed' ? null : parseFailure(job.failedReason);
  return {
    id: job.id ?? '',
    name: job.name,
    state,
    finished,
    source: problem === undefined ? job.data.source : '',
    ...(principal !== undefined ? { principal } : {}),
    regions: problem === undefined ? job.data.spec.regions.map((r) => r.region) : [],
    percent,
    stage,
    error,
    createdAt: new Date(job.timestamp > 0 ? job.timestamp : 0).toISOString(),
    finishedAt: finished && typeof job.finishedOn === 'number' && job.finishedOn > 0 ? new Date(job.finishedOn).toISOString() : null,
  };
}

/** Is `c` after the cursor in the list's order (newest first; the id decides between equal times)? */
function before(c: Candidate, cursor: { timestamp: number; id: string }): boolean {
  return c.timestamp < cursor.timestamp || (c.timestamp === cursor.timestamp && c.id < cursor.id);
}

function encodeCursor(c: Candidate): string {
  return Buffer.from(`${c.timestamp}.${c.id}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): { timestamp: number; id: string } {
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(cursor)) throw new InvalidCursorError();
  const m = /^(\d{1,16})\.(.+)$/s.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw new InvalidCursorError();
  return { timestamp: Number(m[1]), id: m[2]! };
}
