/**
 * The encryption thread of one bundle: AES-128-CBC of the gzip stream and slicing into 10 MiB parts.
 * CBC encryption is serial, so it gets a thread of its own instead of the event loop (which hashes the
 * tar stream and moves buffers) or the compression pool. Protocol (see cipher-stage.ts):
 *
 *   in:  { type: 'init', key, iv, partSize, maxParts }
 *        { type: 'bytes', seq, data }            encrypt these bytes (transferred, not returned)
 *        { type: 'stored', seq, data, final }    frame `data` as deflate stored blocks, then encrypt
 *        { type: 'free', buffer }                a part buffer the sink is done with
 *        { type: 'end' }                         pad, flush the last part
 *   out: { type: 'ack', seq, data? }             done with the message; a stored block comes back, for reuse
 *        { type: 'part', data }                  a full (or the last) part, transferred
 *        { type: 'done', bytes }                 all parts sent; total ciphertext bytes
 *        { type: 'error', message }
 *
 * Two ways to encrypt, same bytes: with the native addon (aesCbcEncrypt), plaintext is copied into the
 * part buffer and encrypted there, in place; without it, node:crypto's Cipher.update makes a new
 * (zero-filled) buffer of ciphertext per call, which is then copied into the part — at ~1 GB/s of
 * incompressible input that allocation, fill and copy cost about as much as AES itself.
 *
 * The messages and who owns which buffer when: thread-protocol.ts.
 */
import { createCipheriv, type Cipher } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { loadNative, type NativeBinding } from '@bundlefarm/native';
import type { CipherReply, CipherRequest } from './thread-protocol.js';
import { transferList } from './transfer-list.js';

type InMessage = CipherRequest;

const port = parentPort!;
/** Every message to the main thread goes through here, typed by the protocol. */
const reply = (message: CipherReply, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);
const AES_CHUNK = 32 * 1024;
const MAX_STORED = 65535;

let cipher: Cipher;
/** The native path: key, CBC chaining state (last ciphertext block), bytes of the part encrypted so far. */
let native: { binding: NativeBinding; key: Uint8Array; iv: Uint8Array } | undefined;
let sealed = 0;
/** Plaintext bytes taken in (native path), for the PKCS#7 padding at the end. */
let submitted = 0;
let partSize = 0;
let maxParts = 0;
let allocated = 0;
/** Part buffers: shared, not transferred (see transfer-list.ts). */
const freeParts: SharedArrayBuffer[] = [];
let part: Uint8Array | undefined;
let fill = 0;
let total = 0;
/** Messages waiting for a free part buffer. */
const waiting: InMessage[] = [];

/**
 * Part buffers are allocated this much larger than a part, and a part starts at the first address in
 * them that is a multiple of it (with the native addon; at 0 without): the sink can then write parts
 * with O_DIRECT, which needs aligned memory, without copying them (see directory-sink.ts).
 */
const PART_ALIGNMENT = 4096;
const alignedOffset = loadNative().binding?.alignedOffset;

function nextPart(): boolean {
  if (part) return true;
  const b = freeParts.pop() ?? (allocated < maxParts ? (allocated++, new SharedArrayBuffer(partSize + PART_ALIGNMENT)) : undefined);
  if (!b) return false;
  const offset = alignedOffset ? alignedOffset(new Uint8Array(b), PART_ALIGNMENT) : 0;
  part = new Uint8Array(b, offset, partSize);
  fill = 0;
  sealed = 0;
  return true;
}

function ship(length: number): void {
  const p = part!;
  if (native && sealed !== length) throw new Error(`internal: part shipped with ${length - sealed} bytes not encrypted`);
  part = undefined;
  reply({ type: 'part', data: p.subarray(0, length) }, transferList(p));
}

/** Appends ciphertext to parts; returns the bytes of `c` not yet placed (no part buffer free). */
function place(c: Uint8Array): Uint8Array | undefined {
  let at = 0;
  while (at < c.length) {
    if (!nextPart()) return c.subarray(at);
    const n = Math.min(partSize - fill, c.length - at);
    part!.set(c.subarray(at, at + n), fill);
    fill += n;
    at += n;
    total += n;
    if (native) seal();
    if (fill === partSize) ship(partSize);
  }
  return undefined;
}

/** Native path: encrypts, in place, the whole AES blocks of the part placed since the last call. */
function seal(): void {
  const end = fill - ((fill - sealed) % 16);
  if (end > sealed) native!.binding.aesCbcEncrypt(native!.key, native!.iv, part!.subarray(sealed, end));
  sealed = end;
}

/**
 * Bytes waiting for a free part buffer: ciphertext (node:crypto), or plaintext copies (native: the
 * caller's buffer goes back to it in the 'ack').
 */
let pending: Uint8Array[] = [];

function encrypt(data: Uint8Array): void {
  if (native) {
    submitted += data.length;
    const rest = pending.length === 0 ? place(data) : data;
    if (rest && rest.length > 0) pending.push(rest.slice());
    return;
  }
  for (let at = 0; at < data.length; at += AES_CHUNK) pending.push(cipher.update(data.subarray(at, at + AES_CHUNK)));
}

/** The end of the stream: PKCS#7 padding (1–16 bytes), as Cipher.final adds it. */
function encryptFinal(): void {
  if (!native) {
    pending.push(cipher.final());
    return;
  }
  const pad = 16 - (submitted % 16);
  encrypt(new Uint8Array(pad).fill(pad));
}

/** Places pending ciphertext; false when it had to stop for lack of a part buffer. */
function drain(): boolean {
  while (pending.length > 0) {
    const rest = place(pending[0]!);
    if (rest) {
      pending[0] = rest;
      return false;
    }
    pending.shift();
  }
  return true;
}

function storedFrame(data: Uint8Array, final: boolean): void {
  const header = new Uint8Array(5);
  let at = 0;
  do {
    const n = Math.min(MAX_STORED, data.length - at);
    header[0] = final && at + n === data.length ? 1 : 0;
    header[1] = n & 0xff;
    header[2] = n >>> 8;
    header[3] = ~n & 0xff;
    header[4] = (~n >>> 8) & 0xff;
    encrypt(header);
    encrypt(data.subarray(at, at + n));
    at += n;
  } while (at < data.length);
}

let ending = false;
let finished = false;

/** After 'end': once every byte is placed, ship the last part and report. */
function finish(): boolean {
  if (!drain()) return false;
  if (ending && !finished) {
    finished = true;
    if (fill > 0 && part) ship(fill);
    reply({ type: 'done', bytes: total });
    // the key and the chaining state are not needed any more: do not leave them in this heap
    native?.key.fill(0);
    native?.iv.fill(0);
  }
  return true;
}

function handle(m: InMessage): boolean {
  switch (m.type) {
    case 'bytes':
      encrypt(m.data);
      // a compressed piece is of no further use to the sender: only the window slot goes back
      reply({ type: 'ack', seq: m.seq });
      return drain();
    case 'stored':
      storedFrame(m.data, m.final);
      reply({ type: 'ack', seq: m.seq, data: m.data }, transferList(m.data));
      return drain();
    case 'end':
      encryptFinal();
      ending = true;
      return finish();
    default:
      return true;
  }
}

function pump(): void {
  if (!drain()) return;
  while (waiting.length > 0) {
    const m = waiting.shift()!;
    if (!handle(m)) return;
  }
  finish();
}

port.on('message', (m: InMessage) => {
  try {
    if (m.type === 'init') {
      const { binding } = loadNative();
      if (binding?.aesCbcAvailable?.()) native = { binding, key: new Uint8Array(m.key), iv: new Uint8Array(m.iv) };
      else cipher = createCipheriv('aes-128-cbc', m.key, m.iv);
      submitted = 0;
      partSize = m.partSize;
      maxParts = m.maxParts;
      pending = [];
      return;
    }
    if (m.type === 'free') {
      if (m.buffer.byteLength === partSize + PART_ALIGNMENT) freeParts.push(m.buffer);
      pump();
      return;
    }
    if (waiting.length > 0 || pending.length > 0) {
      waiting.push(m);
      pump();
      return;
    }
    if (!handle(m)) return;
  } catch (err) {
    reply({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  }
});
