/*
 * Asking before a destructive step: on a terminal, a y/N question on stderr, read from stdin; with no
 * terminal (a script, CI) nothing is assumed — the command needs `-y`.
 */
import { createInterface } from 'node:readline/promises';
import { NotConfirmedError } from '@bundlefarm/errors';
import type { CliIo } from './cli-io.js';

export async function confirm(io: CliIo, action: string, question: string, stdin: NodeJS.ReadStream = process.stdin): Promise<void> {
  if (!stdin.isTTY || !io.stderr.isTTY) throw new NotConfirmedError(action, 'no terminal to ask on; pass -y to go ahead without asking');
  const rl = createInterface({ input: stdin, output: io.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new NotConfirmedError(action, 'the answer was no');
  } finally {
    rl.close();
  }
}
