import type { DataRun } from '@bundlefarm/format';
import { loadNative } from '@bundlefarm/native';
import type { FileImageSource } from './image-source.js';
import type { WorkerPool } from './worker-pool.js';

/**
 * Finds the data runs of a sparse image file, so it can be bundled as an old-GNU sparse tar member as
 * `tar -S` (ec2-bundle-image) does: holes are neither read, hashed, compressed nor encrypted.
 *
 * The filesystem is asked first (SEEK_DATA/SEEK_HOLE through the native addon: instant, GNU tar's own
 * method). Without the addon, or on a filesystem that cannot tell, the file is read once on the pool in
 * parallel ranges, and every `chunk`-sized piece that is all zeros counts as a hole.
 */
export async function sparseDataRuns(source: FileImageSource, size: number, pool: WorkerPool, options: ScanOptions = {}): Promise<DataRun[]> {
  const native = loadNative().binding;
  if (native && source.fd !== undefined) {
    try {
      const flat = native.dataRuns(source.fd, size);
      const runs: DataRun[] = [];
      for (let i = 0; i < flat.length; i += 2) runs.push({ offset: flat[i]!, length: flat[i + 1]! });
      return runs;
    } catch {
      // the filesystem cannot tell: scan
    }
  }
  return findDataRuns(source.path, size, pool, options);
}

export interface ScanOptions {
  /** Granularity of holes (default 64 KiB). */
  chunk?: number;
  /** Bytes of file per pool task (default 64 MiB). */
  taskSize?: number;
  signal?: AbortSignal;
}

/** Read-based scan on the pool (the fallback of `sparseDataRuns`). */
export async function findDataRuns(path: string, size: number, pool: WorkerPool, options: ScanOptions = {}): Promise<DataRun[]> {
  const chunk = options.chunk ?? 64 * 1024;
  const taskSize = Math.max(chunk, Math.floor((options.taskSize ?? 64 * 1024 * 1024) / chunk) * chunk);
  const tasks: Array<Promise<number[]>> = [];
  for (let start = 0; start < size; start += taskSize) {
    const t = pool.scan({ path, start, length: Math.min(taskSize, size - start), chunk }, options.signal);
    t.catch(() => {});
    tasks.push(t);
  }
  const runs: DataRun[] = [];
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
  return runs;
}
