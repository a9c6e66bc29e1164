/** Where the CLI writes, so tests and embedders can capture it. */
export interface CliIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

export interface GlobalFlags {
  debug: boolean;
  quiet: boolean;
}

export function out(io: CliIo, line = ''): void {
  io.stdout.write(line + '\n');
}
