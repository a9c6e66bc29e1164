import type { Command } from 'commander';
import { InvalidOptionError } from '@bundlefarm/errors';
import { out, type CliIo } from '../cli-io.js';

interface HashTokenFlags {
  generate?: boolean;
}

/**
 * `bundlefarm hash-token`: the `sha256:…` form of an API token, for a principal's `tokenHashes` in the
 * principals file (the API and workers keep hashes only). The token is read from standard input (one
 * line; never an argument, which `ps` would show), or made with `--generate` and printed once, above
 * its hash. @bundlefarm/queue is loaded only when the command runs.
 */
export function registerHashToken(program: Command, io: CliIo, stdin: NodeJS.ReadableStream = process.stdin): void {
  program
    .command('hash-token')
    .description('print the sha256: hash of an API token read from stdin (or of a new one, --generate) for the principals file')
    .option('--generate', 'make a new random token; print it, then its hash')
    .action(async (opts: HashTokenFlags) => {
      const { generateToken, hashToken, MIN_TOKEN_LENGTH } = await import('@bundlefarm/queue');
      if (opts.generate) {
        const token = generateToken();
        out(io, `token: ${token}`);
        out(io, `hash:  ${hashToken(token)}`);
        return;
      }
      const token = (await readFirstLine(stdin)).trim();
      if (token.length < MIN_TOKEN_LENGTH) {
        throw new InvalidOptionError('token (standard input)', `must have at least ${MIN_TOKEN_LENGTH} characters; make one with --generate`);
      }
      out(io, hashToken(token));
    });
}

async function readFirstLine(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += chunk.toString();
    const nl = text.indexOf('\n');
    if (nl >= 0) return text.slice(0, nl);
    if (text.length > 4096) break;
  }
  return text;
}
