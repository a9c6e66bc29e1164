import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { InvalidOptionError } from '@bundlefarm/errors';
import type { CompressResult, CompressTask, HashResult, HashTask, ScanTask } from './pool-worker.js';
import { transferList } from './transfer-list.js';

/**
 * The CPU pool: one Piscina pool per process, shared by every bundle the process runs (CLI, or all the
 * jobs of a worker process). Compression and part hashing run on it; the event loop only moves buffers.
 */
export interface WorkerPoolOptions {
  /** Worker threads (default: the number of cores, `os.availableParallelism()`). */
  threads?: number;
}

export class WorkerPool {
  readonly threads: number;
  private readonly piscina: Piscina;
  private closed = false;

  constructor(options: WorkerPoolOptions = {}) {
    const threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
      throw new InvalidOptionError('threads', `${String(threads)} is not a whole number of threads between 1 and 256`);
    }
    this.threads = threads;
    this.piscina = new Piscina({
      filename: new URL('./pool-worker.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 30_000,
      concurrentTasksPerWorker: 1,
      // Workers allocate little on the JS heap (buffers are external): a small young generation keeps
      // their memory flat instead of letting V8 grow it with the allocation rate.
      resourceLimits: { maxYoungGenerationSizeMb: 8 },
    });
  }

  compress(task: CompressTask, signal?: AbortSignal): Promise<CompressResult> {
    return this.piscina.run(task, {
      name: 'compress',
      transferList: transferList(task.data, task.dictionary),
      ...(signal ? { signal } : {}),
    }) as Promise<CompressResult>;
  }

  sha1(task: HashTask, signal?: AbortSignal): Promise<HashResult> {
    return this.piscina.run(task, {
      name: 'sha1',
      transferList: transferList(task.data),
      ...(signal ? { signal } : {}),
    }) as Promise<HashResult>;
  }

  /** Data runs of a file range (flat [offset, length, ...]), for sparse images. */
  scan(task: ScanTask, signal?: AbortSignal): Promise<number[]> {
    return this.piscina.run(task, { name: 'scan', ...(signal ? { signal } : {}) }) as Promise<number[]>;
  }

  /** Tasks waiting for a thread. */
  get queueSize(): number {
    return this.piscina.queueSize;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.piscina.close();
  }
}

let shared: WorkerPool | undefined;

/** The process-wide pool, created on first use with `options` (later options are ignored). */
export function sharedWorkerPool(options: WorkerPoolOptions = {}): WorkerPool {
  shared ??= new WorkerPool(options);
  return shared;
}

export async function closeSharedWorkerPool(): Promise<void> {
  const p = shared;
  shared = undefined;
  await p?.close();
}
