/*
 * `bundlefarm cancel ID`: a job that has not started is removed; a running one is stopped by its worker,
 * which removes what it uploaded (--wait: until it has).
 */
import type { Command } from 'commander';
import { ApiClient, apiClientOptions } from '../api-client.js';
import { withApiOptions, type ApiFlags } from '../api-flags.js';
import { out, type CliIo, type GlobalFlags } from '../cli-io.js';
import { followJob } from './status-command.js';

interface CancelFlags extends ApiFlags {
  wait?: boolean;
}

export function registerCancel(program: Command, io: CliIo, flags: () => GlobalFlags): void {
  withApiOptions(
    program
      .command('cancel')
      .description('cancel a bundle job: removed if it has not started; stopped, and its uploads removed, if it runs')
      .argument('<id>', 'job id')
      .option('--wait', 'wait until a running job has stopped', false),
  ).action(async (id: string, opts: CancelFlags) => {
    const client = new ApiClient(apiClientOptions(opts, io.env));
    const r = await client.cancel(id);
    if (r.outcome === 'removed') {
      out(io, `${r.id} cancelled: removed from the queue (it was ${r.previousState})`);
      return;
    }
    out(io, `${r.id} cancelling: its worker stops it and removes what it uploaded`);
    if (!opts.wait) return;
    const s = await followJob(client, id, io, { quiet: flags().quiet, intervalMs: 500 });
    out(io, `${s.id} ${s.state}`);
  });
}
