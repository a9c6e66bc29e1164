/*
 * `bundlefarm retry ID`: runs a failed or cancelled job again; regions an earlier attempt published are
 * kept (--wait: follow it to its end, exit 1 if it fails again).
 */
import type { Command } from 'commander';
import { ApiClient, apiClientOptions } from '../api-client.js';
import { withApiOptions, type ApiFlags } from '../api-flags.js';
import { out, type CliIo, type GlobalFlags } from '../cli-io.js';
import { intOption } from '../option-parsers.js';
import { assertSucceeded, followJob, printSummary } from './status-command.js';

interface RetryFlags extends ApiFlags {
  wait?: boolean;
  interval?: number;
}

export function registerRetry(program: Command, io: CliIo, flags: () => GlobalFlags): void {
  withApiOptions(
    program
      .command('retry')
      .description('run a failed or cancelled bundle job again (regions already published are kept)')
      .argument('<id>', 'job id')
      .option('--wait', 'follow the job until it finishes; exit 1 if it failed', false)
      .option('--interval <ms>', 'poll interval with --wait (default 1000)', intOption('--interval', 100, 60_000)),
  ).action(async (id: string, opts: RetryFlags) => {
    const client = new ApiClient(apiClientOptions(opts, io.env));
    const r = await client.retry(id);
    out(io, `${r.id} queued again${r.keptRegions.length > 0 ? ` (kept, already published: ${r.keptRegions.join(', ')})` : ''}`);
    if (!opts.wait) return;
    const s = await followJob(client, id, io, { quiet: flags().quiet, intervalMs: opts.interval ?? 1000 });
    printSummary(io, s);
    assertSucceeded(s);
  });
}
