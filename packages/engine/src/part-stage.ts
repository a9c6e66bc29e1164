/**
 * The main thread's side of parts: each part the cipher thread sends is numbered, hashed (SHA-1) on a
 * pool thread and given to the sink. Hashes run in parallel, `putPart` calls start in index order, and
 * a part's buffer goes back to the cipher thread (`onFree`) once the sink is done with it — which
 * bounds the parts in flight (thread-protocol.ts).
 */
import type { PartSink } from './part-sink.js';
import type { ThreadPool } from './thread-pool.js';

export interface PartStageOptions {
  pool: ThreadPool;
  sink: PartSink;
  /** Stops the stage: no `putPart` starts once it is aborted. */
  signal: AbortSignal;
  /** The sink is done with this part buffer (the cipher thread may refill it). */
  onFree: (buffer: ArrayBufferLike) => void;
  /** A part reached the sink. */
  onStored: () => void;
  /** A part failed (hashing or the sink): the run must stop. */
  onFailure: (err: unknown) => void;
}

export class PartStage {
  private count = 0;
  private readonly digests: string[] = [];
  private readonly ops: Array<Promise<void>> = [];
  private previousPutCalled: Promise<void> = Promise.resolve();

  constructor(private readonly options: PartStageOptions) {}

  /** Parts received so far. */
  get parts(): number {
    return this.count;
  }

  /** SHA-1 (hex) of part `index`, once it was hashed. */
  digest(index: number): string {
    return this.digests[index]!;
  }

  /** A part from the cipher thread, in order. */
  push(data: Uint8Array): void {
    const { pool, sink, signal } = this.options;
    const index = this.count++;
    const hashed = pool.sha1({ data }, signal);
    const previous = this.previousPutCalled;
    let markCalled!: () => void;
    this.previousPutCalled = new Promise<void>((r) => (markCalled = r));
    const op = (async () => {
      let put: Promise<void>;
      let buffer: Buffer;
      try {
        const { sha1, data: back } = await hashed;
        await previous;
        signal.throwIfAborted();
        this.digests[index] = sha1;
        buffer = Buffer.from(back.buffer, back.byteOffset, back.byteLength);
        put = sink.putPart({ index, data: buffer, sha1 });
      } finally {
        markCalled();
      }
      await put;
      // the sink contract: it does not keep `data` once putPart has resolved
      this.options.onFree(buffer.buffer);
      this.options.onStored();
    })();
    op.catch((err: unknown) => this.options.onFailure(err));
    this.ops.push(op);
  }

  /** Resolves once every part pushed so far is at the sink; rejects with the first failure. */
  async stored(): Promise<void> {
    await Promise.all(this.ops);
  }

  /** Resolves once every part pushed so far has succeeded or failed. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.ops);
  }
}
