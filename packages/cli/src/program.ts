import { Command, CommanderError, type OutputConfiguration } from 'commander';
import { closeSharedThreadPool } from '@bundlefarm/engine';
import type { CliIo, GlobalFlags } from './cli-io.js';
import { registerBundle } from './commands/bundle-command.js';
import { registerBundleTar } from './commands/bundle-tar-command.js';
import { registerBundleVol } from './commands/bundle-vol-command.js';
import { registerCancel } from './commands/cancel-command.js';
import { registerDemo } from './commands/demo-command.js';
import { registerDeregister } from './commands/deregister-command.js';
import { registerEnqueue } from './commands/enqueue-command.js';
import { registerHashToken } from './commands/hash-token-command.js';
import { registerList } from './commands/list-command.js';
import { registerLogs } from './commands/logs-command.js';
import { registerRegister } from './commands/register-command.js';
import { registerRetry } from './commands/retry-command.js';
import { registerServe } from './commands/serve-command.js';
import { registerStatus } from './commands/status-command.js';
import { registerUnbundle } from './commands/unbundle-command.js';
import { registerVerify } from './commands/verify-command.js';
import { registerDeleteBundle } from './commands/delete-bundle-command.js';
import { registerDownload } from './commands/download-command.js';
import { registerMigrateBundle } from './commands/migrate-bundle-command.js';
import { registerMigrateManifest } from './commands/migrate-manifest-command.js';
import { registerUpload } from './commands/upload-command.js';
import { EXIT_USAGE, reportError } from './report-error.js';
import { versionText } from './version-text.js';

export { VERSION } from './version-text.js';

export function buildProgram(io: CliIo): { program: Command; flags: () => GlobalFlags } {
  const program = new Command('bundlefarm');
  const flags = (): GlobalFlags => {
    const o = program.opts<{ debug?: boolean; quiet?: boolean }>();
    return { debug: o.debug ?? false, quiet: o.quiet ?? false };
  };
  program
    .description('Fast EC2 instance-store AMI bundles (ec2-bundle-image compatible): bundle, unbundle, verify')
    .version(versionText(), '-V, --version', 'print the version and the backends in use (deflate, aes, holes, part writes)')
    .option('--debug', 'print stack traces and causes of errors, and the backends in use', false)
    .option('-q, --quiet', 'no progress bar', false)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput(output(io));
  registerBundle(program, io, flags);
  registerBundleVol(program, io, flags);
  registerBundleTar(program, io, flags);
  registerUnbundle(program, io, flags);
  registerVerify(program, io, flags);
  registerUpload(program, io, flags);
  registerDownload(program, io, flags);
  registerDeleteBundle(program, io, flags);
  registerMigrateManifest(program, io);
  registerMigrateBundle(program, io, flags);
  registerDemo(program, io, flags);
  registerEnqueue(program, io, flags);
  registerStatus(program, io, flags);
  registerList(program, io);
  registerCancel(program, io, flags);
  registerRetry(program, io, flags);
  registerLogs(program, io);
  registerHashToken(program, io);
  registerRegister(program, io, flags);
  registerDeregister(program, io);
  registerServe(program, io);
  for (const c of program.commands) c.exitOverride().configureOutput(output(io));
  return { program, flags };
}

/**
 * Where help and usage errors go; help is wrapped to the terminal's width, or to 80 columns when it is
 * not a terminal (a pipe, a file, a test), so `--help | less` reads like on a terminal.
 */
function output(io: CliIo): OutputConfiguration {
  const width = (stream: NodeJS.WriteStream): number => (stream.isTTY && stream.columns > 0 ? stream.columns : 80);
  return {
    writeOut: (s) => io.stdout.write(s),
    writeErr: (s) => io.stderr.write(s),
    getOutHelpWidth: () => width(io.stdout),
    getErrHelpWidth: () => width(io.stderr),
  };
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  const { program, flags } = buildProgram(io);
  const debug = argv.includes('--debug');
  ignoreClosedReader(io.stdout);
  ignoreClosedReader(io.stderr);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit with 0; usage errors were already printed by commander
      return err.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    return reportError(err, debug || flags().debug, (s) => io.stderr.write(s));
  } finally {
    await closeSharedThreadPool();
  }
}

const guarded = new WeakSet<NodeJS.WriteStream>();

/**
 * A reader that went away (`bundlefarm bundle … | head -1`) makes the next write fail with EPIPE, an
 * 'error' event nobody handled: a crash with a stack trace, after the work was done. What nobody reads
 * is dropped instead, and the exit status stays the command's own. The listener stays (the failed
 * write may report after `main` returned), once per stream.
 */
function ignoreClosedReader(stream: NodeJS.WriteStream): void {
  if (guarded.has(stream)) return;
  guarded.add(stream);
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}
