/*
 * `bundlefarm list`: the jobs the token's principal may see, newest first, one line each (or JSON).
 * A page at a time (--limit, --cursor), or every page (--all).
 */
import type { Command } from 'commander';
import { InvalidOptionError } from '@bundlefarm/errors';
import { ApiClient, apiClientOptions, type JobSummaryView } from '../api-client.js';
import { withApiOptions, type ApiFlags } from '../api-flags.js';
import { out, type CliIo } from '../cli-io.js';
import { intOption } from '../option-parsers.js';

interface ListFlags extends ApiFlags {
  state?: string[];
  limit?: number;
  cursor?: string;
  all?: boolean;
  json?: boolean;
}

const STATES = ['waiting', 'delayed', 'prioritized', 'waiting-children', 'active', 'completed', 'failed', 'cancelled'];

function collectStates(value: string, previous: string[] = []): string[] {
  const states = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of states) if (!STATES.includes(s)) throw new InvalidOptionError('--state', `${JSON.stringify(s)} is not a state (${STATES.join(', ')})`);
  return [...previous, ...states];
}

/** One line: id, state, percent, name, regions, when enqueued, and why it failed. */
export function summaryLine(j: JobSummaryView): string {
  const percent = j.percent === null ? '-' : `${Math.round(j.percent)}%`;
  const why = j.error && j.state !== 'completed' ? `  ${j.error.code}: ${j.error.message}` : '';
  return `${j.id}  ${j.state.padEnd(9)} ${percent.padStart(4)}  ${j.name}  ${j.regions.join(',') || '-'}  ${j.createdAt}${why}`;
}

export function registerList(program: Command, io: CliIo): void {
  withApiOptions(
    program
      .command('list')
      .description('list the queued, running and finished bundle jobs you may see, newest first')
      .option('--state <states>', `only jobs in these states (comma-separated or repeated): ${STATES.join(', ')}`, collectStates)
      .option('--limit <n>', 'jobs per page (default 20)', intOption('--limit', 1, 100))
      .option('--cursor <cursor>', 'the page after the one that printed this cursor')
      .option('--all', 'every page', false)
      .option('--json', 'print the page(s) as JSON', false),
  ).action(async (opts: ListFlags) => {
    const client = new ApiClient(apiClientOptions(opts, io.env));
    const jobs: JobSummaryView[] = [];
    let cursor = opts.cursor;
    let next: string | null = null;
    do {
      const page = await client.list({ ...(opts.state ? { states: opts.state } : {}), ...(opts.limit !== undefined ? { limit: opts.limit } : {}), ...(cursor !== undefined ? { cursor } : {}) });
      jobs.push(...page.jobs);
      next = page.nextCursor;
      cursor = next ?? undefined;
    } while (opts.all && next !== null);
    if (opts.json) {
      out(io, JSON.stringify({ jobs, nextCursor: next }, null, 2));
      return;
    }
    for (const j of jobs) out(io, summaryLine(j));
    if (jobs.length === 0) io.stderr.write('bundlefarm: no jobs\n');
    if (next !== null) io.stderr.write(`bundlefarm: more jobs: bundlefarm list --cursor ${next}${opts.limit !== undefined ? ` --limit ${opts.limit}` : ''}\n`);
  });
}
