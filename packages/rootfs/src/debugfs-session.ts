/*
 * A long-running `debugfs -w` on an image, fed commands on stdin. debugfs echoes every command it reads
 * ("debugfs: CMD") before running it, and prints that command's output and errors after it; with stdout
 * line-buffered (stdbuf) and stderr merged into it, the output of command k is exactly what lies between
 * echo k and echo k+1. So every command is checked on its own: an error names the entry it was for, and
 * the callbacks of a command run once debugfs has finished it (a staged file can then be deleted, an open
 * file descriptor closed).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { CancelledError } from '@bundlefarm/errors';
import { FilesystemBuildError, FilesystemFullError } from './rootfs-errors.js';

export type CommandCheck = 'silent' | 'allocates';

interface Pending {
  line: string;
  check: CommandCheck;
  onDone?: () => Promise<void> | void;
  /** What the command was for, in messages. */
  what: string;
  output: string[];
}

const ECHO = 'debugfs: ';

export class DebugfsSession {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly queue: Pending[] = [];
  /** Index into `queue` of the command whose output is being read; -1 before the first echo. */
  private current: Pending | undefined;
  private partial = '';
  private failure: Error | undefined;
  private readonly exited: Promise<number | null>;
  private readonly waiters: Array<() => void> = [];
  private outstanding = 0;
  private readonly releases: Array<Promise<void>> = [];
  private readonly onAbort: () => void;

  constructor(
    image: string,
    private readonly signal?: AbortSignal,
  ) {
    this.child = spawn('sh', ['-c', 'exec stdbuf -oL debugfs -w -f - "$0" 2>&1', image], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout.on('data', (d: Buffer) => this.onData(d.toString('latin1')));
    this.child.stderr.on('data', (d: Buffer) => this.onData(d.toString('latin1')));
    this.child.stdin.on('error', () => {
      // debugfs died: the exit handler reports it
    });
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code) => resolve(code));
      this.child.on('error', (err) => {
        this.fail(new FilesystemBuildError('debugfs', `cannot run: ${err.message}`, { cause: err }));
        resolve(null);
      });
    });
    this.onAbort = () => this.fail(new CancelledError('building the filesystem'));
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Commands sent and not yet finished by debugfs. */
  get pending(): number {
    return this.outstanding;
  }

  /**
   * Sends one command. `check`: 'silent' commands must print nothing, 'allocates' ones exactly
   * "Allocated inode: N". `onDone` runs once debugfs has finished the command.
   */
  async send(line: string, what: string, check: CommandCheck = 'silent', onDone?: () => Promise<void> | void): Promise<void> {
    this.throwIfFailed();
    if (line.includes('\n')) throw new FilesystemBuildError('debugfs', `refusing a command with a newline (${what})`);
    const p: Pending = { line, check, what, output: [], ...(onDone ? { onDone } : {}) };
    this.queue.push(p);
    this.outstanding++;
    if (!this.child.stdin.write(Buffer.from(line + '\n', 'latin1'))) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.child.stdin.off('drain', done);
          this.child.off('close', done);
          resolve();
        };
        this.child.stdin.once('drain', done);
        this.child.once('close', done);
      });
    }
    this.throwIfFailed();
  }

  /** Waits until at most `max` commands are outstanding (bounds open files and staged bytes). */
  async waitBelow(max: number): Promise<void> {
    while (this.outstanding > max) {
      this.throwIfFailed();
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    this.throwIfFailed();
  }

  /** Ends the session: every command finished and checked, debugfs exited 0. */
  async close(): Promise<void> {
    this.child.stdin.end();
    const code = await this.exited;
    this.finishCurrent();
    this.signal?.removeEventListener('abort', this.onAbort);
    await Promise.all(this.releases);
    this.throwIfFailed();
    if (code !== 0) throw new FilesystemBuildError('debugfs', `exited with status ${code}`);
    if (this.queue.length > 0) throw new FilesystemBuildError('debugfs', `stopped before "${this.queue[0]!.line}"`);
  }

  /** Kills debugfs (after a failure elsewhere); releases what pending commands held. */
  async abort(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
    this.signal?.removeEventListener('abort', this.onAbort);
    for (const p of this.queue) if (p.onDone) this.releases.push(Promise.resolve().then(p.onDone).catch(() => {}));
    if (this.current?.onDone) this.releases.push(Promise.resolve().then(this.current.onDone).catch(() => {}));
    this.queue.length = 0;
    this.current = undefined;
    await Promise.all(this.releases);
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.child.kill('SIGKILL');
    for (const w of this.waiters.splice(0)) w();
  }

  private onData(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) this.onLine(line);
  }

  private onLine(line: string): void {
    if (line.startsWith(ECHO)) {
      const next = this.queue[0];
      if (next && line === ECHO + next.line) {
        this.finishCurrent();
        this.current = this.queue.shift();
        return;
      }
    }
    // before the first echo: the version banner
    if (this.current) this.current.output.push(line);
  }

  private finishCurrent(): void {
    const p = this.current;
    if (!p) return;
    this.current = undefined;
    if (this.partial && this.queue.length === 0) {
      p.output.push(this.partial);
      this.partial = '';
    }
    this.outstanding--;
    for (const w of this.waiters.splice(0)) w();
    if (p.onDone) this.releases.push(Promise.resolve().then(p.onDone));
    const out = p.output.filter((l) => l.trim() !== '');
    const ok = p.check === 'silent' ? out.length === 0 : out.length === 1 && /^Allocated inode: \d+$/.test(out[0]!);
    if (!ok) this.fail(commandError(p, out));
  }
}

function commandError(p: Pending, out: string[]): Error {
  const text = Buffer.from(out.join(' | ') || '(no output)', 'latin1').toString('utf8');
  if (/Could not allocate (block|inode)|No free space|No space left|inode table is full|Could not allocate/i.test(text)) {
    return new FilesystemFullError(
      `the filesystem image is full while writing ${p.what} (${text}); give a larger size with -s, at most 10240 MiB`,
    );
  }
  if (/No space left on device|short write|Attempt to write block/i.test(text)) {
    return new FilesystemFullError(`the scratch disk is full while writing ${p.what} (${text})`);
  }
  return new FilesystemBuildError('debugfs', `${p.what}: ${text}`);
}
