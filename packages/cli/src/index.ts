export { main, buildProgram, VERSION } from './program.js';
export type { CliIo } from './cli-io.js';
