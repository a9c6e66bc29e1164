/*
 * Opens a rootfs tarball — plain, gzip, zstd, xz or bzip2, told apart by magic bytes rather than the
 * file name — as a stream of uncompressed tar bytes. gzip is inflated in-process (zlib); zstd, xz and
 * bzip2 by Debian's own tools in a child process, fed from the file or from stdin.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { FileUnreadableError } from '@bundlefarm/errors';
import { TarballInvalidError, ToolMissingError } from './rootfs-errors.js';
import { requireTools } from './tools.js';

export type Compression = 'none' | 'gzip' | 'zstd' | 'xz' | 'bzip2';

export interface TarballInput {
  compression: Compression;
  /** Size of the (possibly compressed) file, when it is a file. */
  fileSize?: number;
  /** Bytes of the file read so far (for progress). */
  readonly bytesRead: () => number;
  /** Uncompressed tar bytes. */
  stream: AsyncIterable<Buffer>;
  /** Waits for the decompressor, throwing if it failed; kills it if the tar reader stopped early. */
  finish(aborted: boolean): Promise<void>;
}

const TOOLS: Record<Exclude<Compression, 'none' | 'gzip'>, { cmd: string; args: string[]; pkg: string }> = {
  zstd: { cmd: 'zstd', args: ['-d', '-c', '-q'], pkg: 'zstd' },
  xz: { cmd: 'xz', args: ['-d', '-c', '-T0'], pkg: 'xz-utils' },
  bzip2: { cmd: 'bzip2', args: ['-d', '-c'], pkg: 'bzip2' },
};

export function detectCompression(head: Buffer): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
  return 'none';
}

/** `path` '-' reads stdin (`stdin` to override, for tests and the worker). */
export async function openTarball(path: string, stdin: Readable = process.stdin): Promise<TarballInput> {
  let source: Readable;
  let fileSize: number | undefined;
  let head: Buffer;
  if (path === '-') {
    source = stdin;
    head = Buffer.alloc(0);
  } else {
    try {
      const st = await stat(path);
      if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: st.isDirectory() ? 'EISDIR' : 'EINVAL' });
      fileSize = st.size;
      const h = await open(path, 'r');
      try {
        head = Buffer.alloc(8);
        const { bytesRead } = await h.read(head, 0, 8, 0);
        head = head.subarray(0, bytesRead);
      } finally {
        await h.close();
      }
    } catch (err) {
      throw new FileUnreadableError(path, err);
    }
    source = createReadStream(path, { highWaterMark: 1 << 20 });
  }
  let read = 0;
  // stdin: peek the first chunk for the magic bytes, then put it back in front
  const counted = (async function* (): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      read += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  })();
  let first: Buffer | undefined;
  if (path === '-') {
    const r = await counted.next();
    first = r.done ? Buffer.alloc(0) : r.value;
    head = first.subarray(0, 8);
  }
  const raw = (async function* (): AsyncGenerator<Buffer> {
    if (first && first.length > 0) yield first;
    yield* counted;
  })();
  if (head.length === 0) throw new TarballInvalidError('the tarball is empty');
  const compression = detectCompression(Buffer.concat([head, Buffer.alloc(8)]));
  const base = { compression, ...(fileSize !== undefined ? { fileSize } : {}), bytesRead: () => read };
  if (compression === 'none') return { ...base, stream: raw, finish: async () => {} };
  if (compression === 'gzip') {
    const gunzip = createGunzip();
    const pump = (async () => {
      for await (const chunk of raw) if (!gunzip.write(chunk)) await new Promise((r) => gunzip.once('drain', r));
      gunzip.end();
    })();
    pump.catch((err: unknown) => gunzip.destroy(err as Error));
    return {
      ...base,
      stream: wrapErrors(gunzip, 'gzip'),
      finish: async (aborted) => {
        if (aborted) gunzip.destroy();
        await pump.catch(() => {});
      },
    };
  }
  const tool = TOOLS[compression];
  requireTools([tool.cmd]);
  const child = spawn(tool.cmd, tool.args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.on('error', (error) => resolve({ code: null, error }));
    child.on('close', (code) => resolve({ code }));
  });
  child.stdin.on('error', () => {});
  const pump = (async () => {
    for await (const chunk of raw) if (!child.stdin.write(chunk)) await new Promise((r) => child.stdin.once('drain', r));
    child.stdin.end();
  })();
  pump.catch(() => child.stdin.destroy());
  // piped at once: Node resumes (and so discards) the output of an exited child nobody has read yet
  const output = new PassThrough({ highWaterMark: 1 << 20 });
  child.stdout.pipe(output);
  return {
    ...base,
    stream: wrapErrors(output, compression),
    finish: async (aborted) => {
      if (aborted) kill(child);
      await pump.catch(() => {});
      const r = await exited;
      if (r.error) {
        if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new ToolMissingError(tool.cmd, tool.pkg);
        throw r.error;
      }
      if (!aborted && r.code !== 0) throw new TarballInvalidError(`${tool.cmd} could not decompress it: ${stderr.trim() || `exit ${r.code}`}`);
    },
  };
}

function kill(child: ChildProcess): void {
  if (child.exitCode === null) child.kill('SIGKILL');
}

async function* wrapErrors(stream: Readable, what: string): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (err) {
    throw new TarballInvalidError(`${what} data is corrupt: ${(err as Error).message}`, { cause: err });
  }
}
