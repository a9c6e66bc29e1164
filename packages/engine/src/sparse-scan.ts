/**
 * Finds the data runs of a sparse image file, so it can be bundled as an old-GNU sparse tar member as
 * `tar -S` (ec2-bundle-image) does: holes are neither read, hashed, compressed nor encrypted.
 *
 * The filesystem is asked first (SEEK_DATA/SEEK_HOLE through the native addon on the source's open
 * descriptor: instant, GNU tar's own method). Without the addon, or on a filesystem that cannot tell,
 * the file is read once on the pool in parallel ranges — through that same descriptor, never by name —
 * and every `chunk`-sized piece that is all zeros counts as a hole.
 */
import type { DataRun } from '@bundlefarm/format';
import { loadNative } from '@bundlefarm/native';
import type { ThreadPool } from './thread-pool.js';

export type SparseScanMethod = 'seek-data' | 'read';

export interface SparseScan {
  runs: DataRun[];
  /** How the runs were found: the filesystem's SEEK_DATA/SEEK_HOLE, or reading the whole file. */
  method: SparseScanMethod;
}

/** A local file opened for reading: its descriptor, and a path for messages. */
export interface ScannableFile {
  readonly fd: number | undefined;
  readonly description: string;
}

export async function sparseDataRuns(source: ScannableFile, size: number, pool: ThreadPool, options: ScanOptions = {}): Promise<SparseScan> {
  const fd = source.fd;
  if (fd === undefined) throw new Error(`sparseDataRuns: ${source.description} is not open`);
  const native = loadNative().binding;
  if (native) {
    try {
      const flat = native.dataRuns(fd, size);
      const runs: DataRun[] = [];
      for (let i = 0; i < flat.length; i += 2) runs.push({ offset: flat[i]!, length: flat[i + 1]! });
      return { runs, method: 'seek-data' };
    } catch {
      // the filesystem cannot tell: scan
    }
  }
  return { runs: await findDataRuns(fd, size, pool, options), method: 'read' };
}

export interface ScanOptions {
  /** Granularity of holes (default 64 KiB). */
  chunk?: number;
  /** Bytes of file per pool task (default 64 MiB). */
  taskSize?: number;
  signal?: AbortSignal;
}

/**
 * Read-based scan on the pool (the fallback of `sparseDataRuns`) of a file given by path, or by an open
 * descriptor of this process (the pool's threads share it; it must stay open until this resolves).
 */
export async function findDataRuns(file: string | number, size: number, pool: ThreadPool, options: ScanOptions = {}): Promise<DataRun[]> {
  const chunk = options.chunk ?? 64 * 1024;
  const taskSize = Math.max(chunk, Math.floor((options.taskSize ?? 64 * 1024 * 1024) / chunk) * chunk);
  const target = typeof file === 'number' ? { fd: file } : { path: file };
  const tasks: Array<Promise<number[]>> = [];
  for (let start = 0; start < size; start += taskSize) {
    const t = pool.scan({ ...target, start, length: Math.min(taskSize, size - start), chunk }, options.signal);
    t.catch(() => {});
    tasks.push(t);
  }
  const runs: DataRun[] = [];
  try {
    for (const t of tasks) {
      const flat = await t;
      for (let i = 0; i < flat.length; i += 2) {
        const offset = flat[i]!;
        const length = flat[i + 1]!;
        const last = runs[runs.length - 1];
        if (last && last.offset + last.length === offset) last.length += length;
        else runs.push({ offset, length });
      }
    }
  } finally {
    // a descriptor is the caller's to close: no task may still read it once this returns
    if (typeof file === 'number') await Promise.allSettled(tasks);
  }
  return runs;
}
