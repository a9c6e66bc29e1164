import type { Command } from 'commander';
import { BundlefarmError, isBundlefarmError } from '@bundlefarm/errors';
import { ApiClient, apiClientOptions, API_TOKEN_ENV, API_URL_ENV, type JobStatusView } from '../api-client.js';
import { out, type CliIo, type GlobalFlags } from '../cli-io.js';
import { intOption } from '../option-parsers.js';
import { createProgressView, formatBytes } from '../progress-bar.js';

interface StatusFlags {
  api?: string;
  token?: string;
  follow?: boolean;
  interval?: number;
  json?: boolean;
}

/** Consecutive failed polls (API unreachable, 5xx) tolerated while following, about a minute at 1 s. */
const MAX_POLL_FAILURES = 60;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls a job until it finishes, showing a progress bar on a terminal (stderr). Rides out short API
 * outages (restarts, Redis failover): only MAX_POLL_FAILURES transient failures in a row give up.
 */
export async function followJob(client: ApiClient, id: string, io: CliIo, options: { quiet: boolean; intervalMs: number }): Promise<JobStatusView> {
  const view = createProgressView(!options.quiet, `bundle ${id}`, io.stderr);
  let failures = 0;
  try {
    for (;;) {
      let status: JobStatusView;
      try {
        status = await client.status(id);
        failures = 0;
      } catch (err) {
        if (isBundlefarmError(err) && err.transient && ++failures < MAX_POLL_FAILURES) {
          await sleep(options.intervalMs);
          continue;
        }
        throw err;
      }
      const p = status.progress;
      if (p) {
        const parts = p.partsTotal !== undefined ? `${p.partsDone}/${p.partsTotal} parts` : `${p.partsDone} parts`;
        const detail =
          p.stage === 'building-filesystem' && p.filesystem
            ? `${p.filesystem.phase}, ${p.filesystem.entries} entries, ${formatBytes(p.filesystem.fileBytes)} of files`
            : `${formatBytes(p.bytesIn)} in, ${formatBytes(p.bytesOut)} out, ${parts}`;
        view.update(Math.round(p.percent * 10), 1000, `${p.stage}, ${detail}`);
      } else {
        view.update(0, 1000, status.state);
      }
      if (status.finished) return status;
      await sleep(options.intervalMs);
    }
  } finally {
    view.stop();
  }
}

/** One line per fact, then one per region; stdout. */
export function printSummary(io: CliIo, s: JobStatusView): void {
  out(io, `job:      ${s.id} (${s.name}) ${s.state}${s.attempts.made > 1 ? ` after ${s.attempts.made} attempts` : ''}`);
  if (s.result) {
    const r = s.result;
    out(io, `image:    ${r.size} bytes, tar SHA-1 ${r.digest}, ${r.parts} parts, ${r.bundledSize} bytes bundled`);
    out(io, `time:     ${r.seconds.toFixed(2)} s${r.uploadRetries > 0 ? `, ${r.uploadRetries} part upload retries` : ''}`);
  } else if (s.progress && !s.finished) {
    out(io, `progress: ${s.progress.percent.toFixed(0)} % (${s.progress.stage})`);
  }
  for (const region of s.regions) {
    const where = region.manifestKey !== undefined ? `s3://${region.bucket}/${region.manifestKey}` : `s3://${region.bucket}/${region.prefix}`;
    const what = region.error ? `failed: ${region.error.code}: ${region.error.message}` : region.stage;
    out(io, `${region.region}: ${where} ${what}`);
    if (region.imageId !== undefined) out(io, `${region.region}: AMI ${region.imageId}${region.imageName !== undefined ? ` (${region.imageName})` : ''}`);
    if (region.replaced) out(io, `${region.region}: replaced the bundle published at ${region.replaced.manifest}: ${region.replaced.removed.length} of its objects removed`);
  }
  if (s.error && s.state !== 'completed') out(io, `error:    ${s.error.code}: ${s.error.message}`);
}

/**
 * The job's outcome as an exit: nothing for a job that completed in every region, else an error with
 * the job's (or the first failed region's) code, which the CLI prints and exits 1 with.
 */
export function assertSucceeded(s: JobStatusView): void {
  if (s.state === 'failed') {
    const e = s.error ?? { code: 'BF_JOB_FAILED', message: 'no reason given' };
    throw new BundlefarmError(e.code.startsWith('BF_') ? e.code : 'BF_JOB_FAILED', `bundle job ${s.id} failed: ${e.message}`, false);
  }
  const failed = s.regions.filter((r) => r.error);
  if (s.state === 'completed' && failed.length > 0) {
    const first = failed[0]!.error!;
    throw new BundlefarmError(
      first.code.startsWith('BF_') ? first.code : 'BF_JOB_FAILED',
      `bundle job ${s.id} failed in ${failed.map((r) => r.region).join(', ')}: ${first.message}`,
      false,
    );
  }
}

export function registerStatus(program: Command, io: CliIo, flags: () => GlobalFlags): void {
  program
    .command('status')
    .description('show a queued bundle job (state, progress, result per region); --follow until it finishes')
    .argument('<id>', 'job id (as printed by bundlefarm enqueue)')
    .option('--api <url>', `bundlefarm API URL (default $${API_URL_ENV})`)
    .option('--token <token>', `API token (default $${API_TOKEN_ENV}; prefer the variable: arguments show in ps)`)
    .option('-f, --follow', 'poll until the job finishes; exit 1 if it failed', false)
    .option('--interval <ms>', 'poll interval with --follow (default 1000)', intOption('--interval', 100, 60_000))
    .option('--json', 'print the status as JSON', false)
    .action(async (id: string, opts: StatusFlags) => {
      const { quiet } = flags();
      const client = new ApiClient(apiClientOptions(opts, io.env));
      const status = opts.follow ? await followJob(client, id, io, { quiet, intervalMs: opts.interval ?? 1000 }) : await client.status(id);
      if (opts.json) out(io, JSON.stringify(status, null, 2));
      else printSummary(io, status);
      if (status.finished) assertSucceeded(status);
    });
}
