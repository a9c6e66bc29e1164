/*
 * `bundlefarm logs ID`: what the workers noted about a job (attempts, preflight, bundling, each region
 * published, the failure); --follow prints new lines as they come until the job finishes, and exits
 * like `status --follow` (1 when the job failed or was cancelled).
 */
import type { Command } from 'commander';
import { isBundlefarmError } from '@bundlefarm/errors';
import { ApiClient, apiClientOptions, type JobLogView } from '../api-client.js';
import { withApiOptions, type ApiFlags } from '../api-flags.js';
import { out, type CliIo } from '../cli-io.js';
import { intOption } from '../option-parsers.js';
import { assertSucceeded } from './status-command.js';

interface LogsFlags extends ApiFlags {
  follow?: boolean;
  interval?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Consecutive transient failures tolerated while following (about a minute at 1 s). */
const MAX_POLL_FAILURES = 60;

export function registerLogs(program: Command, io: CliIo): void {
  withApiOptions(
    program
      .command('logs')
      .description("print a bundle job's log; --follow until it finishes")
      .argument('<id>', 'job id')
      .option('-f, --follow', 'print new lines as they come until the job finishes; exit 1 if it failed', false)
      .option('--interval <ms>', 'poll interval with --follow (default 1000)', intOption('--interval', 100, 60_000)),
  ).action(async (id: string, opts: LogsFlags) => {
    const client = new ApiClient(apiClientOptions(opts, io.env));
    let offset = 0;
    let failures = 0;
    for (;;) {
      let log: JobLogView;
      try {
        log = await client.logs(id, offset);
        failures = 0;
      } catch (err) {
        if (opts.follow && isBundlefarmError(err) && err.transient && ++failures < MAX_POLL_FAILURES) {
          await sleep(opts.interval ?? 1000);
          continue;
        }
        throw err;
      }
      for (const line of log.lines) out(io, line);
      offset = log.next;
      if (log.next < log.total) continue; // more than one answer holds
      if (!opts.follow) return;
      if (log.finished) {
        assertSucceeded(await client.status(id));
        return;
      }
      await sleep(opts.interval ?? 1000);
    }
  });
}
