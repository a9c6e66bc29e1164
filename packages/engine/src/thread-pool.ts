/**
 * The pool threads: one Piscina pool per process, shared by every bundle the process runs (the CLI, or
 * all the jobs of a BullMQ worker process). Compression, part hashing and hole scans run on it (the
 * tasks are pool-thread.ts); the main thread only moves buffers.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { InvalidOptionError } from '@bundlefarm/errors';
import type { CompressResult, CompressTask, HashResult, HashTask, ScanTask } from './pool-thread.js';
import { transferList } from './transfer-list.js';

export interface ThreadPoolOptions {
  /** Pool threads (default: the number of cores, `os.availableParallelism()`). */
  threads?: number;
}

/** What the pool is doing, for metrics (see `ThreadPool.activity`). */
export interface PoolActivity {
  /** Pool threads. */
  threads: number;
  /** Threads running a task now. */
  busy: number;
  /** Tasks waiting for a thread. */
  queued: number;
  /** Thread-seconds spent running tasks since the pool started (busy threads integrated over time). */
  busySeconds: number;
}

export class ThreadPool {
  readonly threads: number;
  private readonly piscina: Piscina;
  private closed = false;
  /** Tasks submitted and not settled: the first `threads` of them run, the rest wait. */
  private tasks = 0;
  private busyMs = 0;
  private since = performance.now();

  constructor(options: ThreadPoolOptions = {}) {
    const threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
      throw new InvalidOptionError('threads', `${String(threads)} is not a whole number of threads between 1 and 256`);
    }
    this.threads = threads;
    this.piscina = new Piscina({
      filename: new URL('./pool-thread.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 30_000,
      concurrentTasksPerWorker: 1,
      // Pool threads allocate little on the JS heap (buffers are external): a small young generation keeps
      // their memory flat instead of letting V8 grow it with the allocation rate.
      resourceLimits: { maxYoungGenerationSizeMb: 8 },
    });
  }

  compress(task: CompressTask, signal?: AbortSignal): Promise<CompressResult> {
    return this.track(
      this.piscina.run(task, {
        name: 'compress',
        transferList: transferList(task.data, task.dictionary),
        ...(signal ? { signal } : {}),
      }) as Promise<CompressResult>,
    );
  }

  sha1(task: HashTask, signal?: AbortSignal): Promise<HashResult> {
    return this.track(
      this.piscina.run(task, {
        name: 'sha1',
        transferList: transferList(task.data),
        ...(signal ? { signal } : {}),
      }) as Promise<HashResult>,
    );
  }

  /** Data runs of a file range (flat [offset, length, ...]), for sparse images. */
  scan(task: ScanTask, signal?: AbortSignal): Promise<number[]> {
    return this.track(this.piscina.run(task, { name: 'scan', ...(signal ? { signal } : {}) }) as Promise<number[]>);
  }

  /**
   * Busy and waiting tasks now, and thread-seconds busy so far. Counted from the tasks in flight (one
   * task per thread): a thread counts as busy from the moment a task is handed to the pool while a
   * thread is free until the task settles.
   */
  get activity(): PoolActivity {
    this.account();
    const busy = Math.min(this.tasks, this.threads);
    return { threads: this.threads, busy, queued: this.tasks - busy, busySeconds: this.busyMs / 1000 };
  }

  /** Tasks waiting for a thread. */
  get queueSize(): number {
    return this.piscina.queueSize;
  }

  /** Adds the busy time since the last change of the number of tasks in flight. */
  private account(): void {
    const now = performance.now();
    this.busyMs += Math.min(this.tasks, this.threads) * (now - this.since);
    this.since = now;
  }

  private track<T>(task: Promise<T>): Promise<T> {
    this.account();
    this.tasks++;
    const settled = (): void => {
      this.account();
      this.tasks--;
    };
    task.then(settled, settled);
    return task;
  }

  /**
   * Resolves once every thread has loaded its code and run a task. A process that exits while a pool
   * thread is still loading its ES module can abort in Node 20 ("v8::Module::IsGraphAsync … instantiated
   * module"): whoever exits right after creating a pool (a BullMQ worker refused at start-up) waits for this.
   */
  async ready(): Promise<void> {
    await Promise.all(Array.from({ length: this.threads }, () => this.sha1({ data: new Uint8Array(0) })));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.piscina.close();
  }
}

let shared: ThreadPool | undefined;

/** The process-wide pool, created on first use with `options` (later options are ignored). */
export function sharedThreadPool(options: ThreadPoolOptions = {}): ThreadPool {
  shared ??= new ThreadPool(options);
  return shared;
}

export async function closeSharedThreadPool(): Promise<void> {
  const p = shared;
  shared = undefined;
  await p?.close();
}
