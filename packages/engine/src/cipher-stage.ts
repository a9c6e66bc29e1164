/**
 * The main-thread side of the cipher thread (cipher-thread.ts): sends gzip bytes in order, receives
 * 10 MiB parts. Flow control both ways: at most `window` messages are in the thread's hands (`send`
 * waits), and the thread owns at most `maxParts` part buffers, getting them back through `free` once
 * the sink is done with them — a slow sink stalls encryption, which stalls the pipeline.
 */
import { Worker } from 'node:worker_threads';
import type { BundleSecret } from '@bundlefarm/format';
import type { CipherReply, CipherRequest } from './thread-protocol.js';
import { transferList } from './transfer-list.js';

export interface CipherStageOptions {
  secret: BundleSecret;
  partSize: number;
  /** Part buffers the thread may have in flight. */
  maxParts: number;
  /** Messages the thread may hold at once (default 8). */
  window?: number;
  onPart: (data: Uint8Array) => void;
  /** A stored block handed back after encryption (for reuse). */
  onAck: (data: Uint8Array) => void;
}

export class CipherStage {
  /** The cipher thread (a node:worker_threads Worker). */
  private readonly thread: Worker;
  private readonly window: number;
  private seq = 0;
  private inFlight = 0;
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  private done: { resolve: (bytes: number) => void; reject: (err: Error) => void } | undefined;
  private terminated = false;

  constructor(private readonly options: CipherStageOptions) {
    this.window = options.window ?? 8;
    this.thread = new Worker(new URL('./cipher-thread.js', import.meta.url), {
      resourceLimits: { maxYoungGenerationSizeMb: 8 },
    });
    this.thread.on('message', (m: CipherReply) => {
      if (m.type === 'ack') {
        this.inFlight--;
        this.wake?.();
        if (m.data) this.options.onAck(m.data);
      } else if (m.type === 'part') {
        this.options.onPart(m.data);
      } else if (m.type === 'done') {
        this.done?.resolve(m.bytes);
      } else if (m.type === 'error') {
        this.fail(new Error(`encryption thread: ${m.message}`));
      }
    });
    this.thread.on('error', (err) => this.fail(err));
    this.thread.on('exit', (code) => {
      if (!this.terminated) this.fail(new Error(`encryption thread exited with code ${code}`));
    });
    const { key, iv } = options.secret;
    this.send({ type: 'init', key: new Uint8Array(key), iv: new Uint8Array(iv), partSize: options.partSize, maxParts: options.maxParts });
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wake?.();
    this.done?.reject(err);
  }

  /** Encrypt `data` (transferred, so it must own its ArrayBuffer; or shared). Resolves when the window has room. */
  async bytes(data: Uint8Array): Promise<void> {
    await this.post({ type: 'bytes', data }, data);
  }

  /** Frame `data` as deflate stored blocks, then encrypt. */
  async stored(data: Uint8Array, final: boolean): Promise<void> {
    await this.post({ type: 'stored', data, final }, data);
  }

  private send(message: CipherRequest, transfer: ArrayBuffer[] = []): void {
    this.thread.postMessage(message, transfer);
  }

  private async post(message: { type: 'bytes'; data: Uint8Array } | { type: 'stored'; data: Uint8Array; final: boolean }, data: Uint8Array): Promise<void> {
    while (this.inFlight >= this.window && !this.failure) await new Promise<void>((r) => (this.wake = r));
    if (this.failure) throw this.failure;
    this.inFlight++;
    this.send({ ...message, seq: this.seq++ }, transferList(data));
  }

  /** Stops waiting senders (the run is failing or cancelled). */
  abort(reason: Error): void {
    this.fail(reason);
  }

  /** A part buffer the sink no longer needs. */
  free(buffer: ArrayBufferLike): void {
    if (!this.terminated) this.send({ type: 'free', buffer: buffer as SharedArrayBuffer }, transferList(buffer));
  }

  /** Pads and flushes; resolves with the total ciphertext length once every part was delivered. */
  end(): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    const p = new Promise<number>((resolve, reject) => (this.done = { resolve, reject }));
    this.send({ type: 'end' });
    return p;
  }

  async terminate(): Promise<void> {
    this.terminated = true;
    await this.thread.terminate();
  }
}
