/**
 * The messages between the engine's three kinds of thread, and who owns each buffer when.
 *
 * Threads (the names the code uses):
 * - the **main thread** — the process's event loop: reads the image, builds the tar stream, hashes it
 *   (SHA-1), hands blocks to the pool and gzip bytes to the cipher thread, gives parts to the sink
 *   (bundle-image.ts, cipher-stage.ts);
 * - the **pool threads** — Piscina's, one per core (thread-pool.ts runs pool-thread.ts): compress a block
 *   (with its CRC-32) or hash a part;
 * - the **cipher thread** — one per bundle (cipher-thread.ts): AES-128-CBC in stream order, and slicing
 *   into 10 MiB parts. (A BullMQ *worker* is another thing: a process running jobs, packages/queue: it
 *   owns one ThreadPool, shared by its jobs.)
 *
 * Ownership. Blocks of the tar stream and part buffers are SharedArrayBuffers, posted, never transferred
 * (transfer-list.ts says why); the rule that keeps them safe is this protocol's:
 * - a **block** belongs to the main thread until it is posted in a CompressTask; the pool thread hands
 *   it back in CompressResult.data, and only then may the main thread refill it;
 * - a **stored block** (input that did not compress) is posted to the cipher thread in a `stored`
 *   message and comes back in that message's `ack`;
 * - a **part buffer** is allocated by the cipher thread, which owns it until it posts it in a `part`
 *   message; the sink then owns it until the main thread posts it back with `free` (at most `maxParts`
 *   are out at once: a slow sink stalls encryption, which stalls the pipeline);
 * - compressed **pieces** and `bytes` messages are plain ArrayBuffers, transferred: whoever received one
 *   owns it.
 */
export type { CompressResult, CompressTask, HashTask, PieceMode } from './pool-thread.js';

/** Main thread → cipher thread. */
export type CipherRequest =
  | { type: 'init'; key: Uint8Array; iv: Uint8Array; partSize: number; maxParts: number }
  /** Encrypt these bytes (transferred, not returned). */
  | { type: 'bytes'; seq: number; data: Uint8Array }
  /** Frame `data` as deflate stored blocks, then encrypt; `data` comes back in the ack. */
  | { type: 'stored'; seq: number; data: Uint8Array; final: boolean }
  /** A part buffer the sink is done with. */
  | { type: 'free'; buffer: SharedArrayBuffer }
  /** Pad, flush the last part, answer `done`. */
  | { type: 'end' };

/** Cipher thread → main thread. */
export type CipherReply =
  /** Done with message `seq`; a stored block comes back in `data`, for reuse. */
  | { type: 'ack'; seq: number; data?: Uint8Array }
  /** A full (or the last) part, in a part buffer the main thread now owns until it frees it. */
  | { type: 'part'; data: Uint8Array }
  /** Every part was sent; the ciphertext's length. */
  | { type: 'done'; bytes: number }
  | { type: 'error'; message: string };
