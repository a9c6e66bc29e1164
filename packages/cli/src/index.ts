// @bundlefarm/cli: the `bundlefarm` command (apps/cli/bin is a thin wrapper around main).

// Run the command line: main(argv, io) resolves to the exit code; CliIo is where it writes and reads its environment.
export { main } from './program.js';
export { type CliIo } from './cli-io.js';
