/**
 * The cipher thread: one per bundle, AES-128-CBC of the gzip stream in stream order and slicing into
 * 10 MiB parts. CBC encryption is serial, so it gets a thread of its own instead of the main thread
 * (which hashes the tar stream and moves buffers) or the pool threads. Its main-thread side is
 * cipher-stage.ts; the messages and who owns which buffer when are thread-protocol.ts.
 *
 * The thread's state is one CipherThread; its methods are the message handlers:
 *
 *   init   keys the cipher, sets the part size and how many part buffers may exist (`maxParts`)
 *   bytes  encrypt these bytes (a compressed piece), ack its window slot
 *   stored frame the block as deflate stored blocks, encrypt, ack with the block (for reuse)
 *   free   a part buffer back from the sink: resume what waited for one
 *   end    pad, flush the last part, answer `done`
 *
 * A full part buffer is posted to the main thread at once (`part`). When all `maxParts` buffers are out,
 * ciphertext (or, natively, plaintext) that does not fit waits in `pending`, and the messages that come
 * after it wait in `waiting`, unhandled and unacked: the main thread's window of 8 messages fills, and
 * the pipeline stalls until the sink frees a part. Messages are always handled in the order they came.
 *
 * Two ways to encrypt, same bytes: with the native addon (aesCbcEncrypt), plaintext is copied into the
 * part buffer and encrypted there, in place; without it, node:crypto's Cipher.update makes a new
 * (zero-filled) buffer of ciphertext per call, which is then copied into the part — at ~1 GB/s of
 * incompressible input that allocation, fill and copy cost about as much as AES itself.
 */
import { createCipheriv, type Cipher } from 'node:crypto';
import { isMainThread, parentPort } from 'node:worker_threads';
import { loadNative, type NativeBinding } from '@bundlefarm/native';
import type { CipherReply, CipherRequest } from './thread-protocol.js';
import { transferList } from './transfer-list.js';

/** node:crypto path: plaintext per Cipher.update call. */
const AES_CHUNK = 32 * 1024;
/** Largest deflate stored block. */
const MAX_STORED = 65535;
/**
 * Part buffers are allocated this much larger than a part, and a part starts at the first address in
 * them that is a multiple of it (with the native addon; at 0 without): the sink can then write parts
 * with O_DIRECT, which needs aligned memory, without copying them (see directory-sink.ts).
 */
const PART_ALIGNMENT = 4096;

/** How the thread answers the main thread: a message, and the ArrayBuffers it transfers. */
export type CipherReplyPort = (message: CipherReply, transfer: ArrayBuffer[]) => void;

export class CipherThread {
  // set by 'init'
  /** node:crypto path (no native AES). */
  private cipher: Cipher | undefined;
  /** The native path: key and CBC chaining state (the last ciphertext block). */
  private native: { binding: NativeBinding; key: Uint8Array; iv: Uint8Array } | undefined;
  private partSize = 0;
  private maxParts = 0;

  // part buffers: shared, not transferred (see transfer-list.ts)
  /** Part buffers made so far (at most `maxParts`). */
  private allocated = 0;
  /** Part buffers the sink gave back. */
  private readonly freeParts: SharedArrayBuffer[] = [];
  /** The part being filled: `fill` bytes placed, the first `sealed` of them encrypted (native path). */
  private part: Uint8Array | undefined;
  private fill = 0;
  private sealed = 0;

  // the stream
  /** Plaintext bytes taken in (native path), for the PKCS#7 padding at the end. */
  private submitted = 0;
  /** Ciphertext bytes placed in parts. */
  private total = 0;
  /**
   * Bytes waiting for a free part buffer: ciphertext (node:crypto), or plaintext copies (native: the
   * caller's buffer goes back to it in the 'ack').
   */
  private pending: Uint8Array[] = [];
  /** Messages that came while bytes were pending: handled, in order, once those are placed. */
  private readonly waiting: CipherRequest[] = [];
  /** 'end' was handled. */
  private ending = false;
  /** The last part and 'done' were sent. */
  private finished = false;

  /**
   * @param reply posts a message to the main thread.
   * @param binding the native addon (default: loaded as the process loads it; null: none, node:crypto).
   */
  constructor(
    private readonly reply: CipherReplyPort,
    private readonly binding: NativeBinding | null = loadNative().binding ?? null,
  ) {}

  /** A message from the main thread. A failure is answered with an `error` message, not thrown. */
  receive(m: CipherRequest): void {
    try {
      if (m.type === 'init') this.init(m);
      else if (m.type === 'free') this.free(m.buffer);
      else if (this.waiting.length > 0 || this.pending.length > 0) {
        this.waiting.push(m);
        this.pump();
      } else this.handle(m);
    } catch (err) {
      this.reply({ type: 'error', message: err instanceof Error ? err.message : String(err) }, []);
    }
  }

  private init(m: Extract<CipherRequest, { type: 'init' }>): void {
    if (this.binding?.aesCbcAvailable?.()) this.native = { binding: this.binding, key: new Uint8Array(m.key), iv: new Uint8Array(m.iv) };
    else this.cipher = createCipheriv('aes-128-cbc', m.key, m.iv);
    this.submitted = 0;
    this.partSize = m.partSize;
    this.maxParts = m.maxParts;
    this.pending = [];
  }

  /** A part buffer the sink is done with: reused, and what waited for it goes on. */
  private free(buffer: SharedArrayBuffer): void {
    if (buffer.byteLength === this.partSize + PART_ALIGNMENT) this.freeParts.push(buffer);
    this.pump();
  }

  /** Handles `bytes`, `stored` and `end`; false when it had to stop for lack of a part buffer. */
  private handle(m: CipherRequest): boolean {
    switch (m.type) {
      case 'bytes':
        this.encrypt(m.data);
        // a compressed piece is of no further use to the sender: only the window slot goes back
        this.reply({ type: 'ack', seq: m.seq }, []);
        return this.drain();
      case 'stored':
        this.storedFrame(m.data, m.final);
        this.reply({ type: 'ack', seq: m.seq, data: m.data }, transferList(m.data));
        return this.drain();
      case 'end':
        this.encryptFinal();
        this.ending = true;
        return this.finish();
      default:
        return true;
    }
  }

  /** Places pending bytes, then handles the messages that waited, in order, as far as part buffers allow. */
  private pump(): void {
    if (!this.drain()) return;
    while (this.waiting.length > 0) {
      const m = this.waiting.shift()!;
      if (!this.handle(m)) return;
    }
    this.finish();
  }

  /** After 'end': once every byte is placed, ship the last part and report. */
  private finish(): boolean {
    if (!this.drain()) return false;
    if (this.ending && !this.finished) {
      this.finished = true;
      if (this.fill > 0 && this.part) this.ship(this.fill);
      this.reply({ type: 'done', bytes: this.total }, []);
      // the key and the chaining state are not needed any more: do not leave them in this heap
      this.native?.key.fill(0);
      this.native?.iv.fill(0);
    }
    return true;
  }

  private encrypt(data: Uint8Array): void {
    if (this.native) {
      this.submitted += data.length;
      const rest = this.pending.length === 0 ? this.place(data) : data;
      if (rest && rest.length > 0) this.pending.push(rest.slice());
      return;
    }
    for (let at = 0; at < data.length; at += AES_CHUNK) this.pending.push(this.cipher!.update(data.subarray(at, at + AES_CHUNK)));
  }

  /** The end of the stream: PKCS#7 padding (1–16 bytes), as Cipher.final adds it. */
  private encryptFinal(): void {
    if (!this.native) {
      this.pending.push(this.cipher!.final());
      return;
    }
    const pad = 16 - (this.submitted % 16);
    this.encrypt(new Uint8Array(pad).fill(pad));
  }

  /** `data` as deflate stored blocks (BTYPE 00): 5-byte header, then at most 65535 bytes verbatim. */
  private storedFrame(data: Uint8Array, final: boolean): void {
    const header = new Uint8Array(5);
    let at = 0;
    do {
      const n = Math.min(MAX_STORED, data.length - at);
      header[0] = final && at + n === data.length ? 1 : 0;
      header[1] = n & 0xff;
      header[2] = n >>> 8;
      header[3] = ~n & 0xff;
      header[4] = (~n >>> 8) & 0xff;
      this.encrypt(header);
      this.encrypt(data.subarray(at, at + n));
      at += n;
    } while (at < data.length);
  }

  /** Places pending bytes; false when it had to stop for lack of a part buffer. */
  private drain(): boolean {
    while (this.pending.length > 0) {
      const rest = this.place(this.pending[0]!);
      if (rest) {
        this.pending[0] = rest;
        return false;
      }
      this.pending.shift();
    }
    return true;
  }

  /** Appends bytes to parts (encrypting them there, native path); returns those not placed (no part buffer free). */
  private place(c: Uint8Array): Uint8Array | undefined {
    let at = 0;
    while (at < c.length) {
      if (!this.nextPart()) return c.subarray(at);
      const n = Math.min(this.partSize - this.fill, c.length - at);
      this.part!.set(c.subarray(at, at + n), this.fill);
      this.fill += n;
      at += n;
      this.total += n;
      if (this.native) this.seal();
      if (this.fill === this.partSize) this.ship(this.partSize);
    }
    return undefined;
  }

  /** Native path: encrypts, in place, the whole AES blocks of the part placed since the last call. */
  private seal(): void {
    const end = this.fill - ((this.fill - this.sealed) % 16);
    if (end > this.sealed) this.native!.binding.aesCbcEncrypt(this.native!.key, this.native!.iv, this.part!.subarray(this.sealed, end));
    this.sealed = end;
  }

  /** A part to fill: the current one, a freed one, or a new one while fewer than `maxParts` exist. */
  private nextPart(): boolean {
    if (this.part) return true;
    const b =
      this.freeParts.pop() ??
      (this.allocated < this.maxParts ? (this.allocated++, new SharedArrayBuffer(this.partSize + PART_ALIGNMENT)) : undefined);
    if (!b) return false;
    const offset = this.binding?.alignedOffset ? this.binding.alignedOffset(new Uint8Array(b), PART_ALIGNMENT) : 0;
    this.part = new Uint8Array(b, offset, this.partSize);
    this.fill = 0;
    this.sealed = 0;
    return true;
  }

  /** Posts the part (its first `length` bytes) to the main thread, which owns it until it sends `free`. */
  private ship(length: number): void {
    const p = this.part!;
    if (this.native && this.sealed !== length) throw new Error(`internal: part shipped with ${length - this.sealed} bytes not encrypted`);
    this.part = undefined;
    this.reply({ type: 'part', data: p.subarray(0, length) }, transferList(p));
  }
}

// The thread's entry (cipher-stage.ts starts it): one CipherThread, fed the main thread's messages.
// Imported on the main thread (a test), the module only defines the class.
if (!isMainThread && parentPort) {
  const port = parentPort;
  const thread = new CipherThread((message, transfer) => port.postMessage(message, transfer));
  port.on('message', (m: CipherRequest) => thread.receive(m));
}
