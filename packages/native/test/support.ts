// Shared helpers of the native addon tests: the binding, deterministic test data and the checks every
// piece must pass. Suites take their skip option from test/helpers/requirements.ts (needsNative,
// needsLibdeflate): a missing addon, or one built without libdeflate, skips with the reason printed,
// or fails with BUNDLEFARM_REQUIRE_NATIVE=1.
import assert from 'node:assert/strict';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { loadLibdeflate, loadNative, type LibdeflateBinding, type NativeBinding } from '@bundlefarm/native';
import { mulberry32 } from '@bundlefarm/testkit/prng.js';

export const MiB = 1 << 20;

/** The addon's core; fails the calling test when it is not loaded (its suite should have skipped). */
export function core(): NativeBinding {
  const loaded = loadNative();
  if (loaded.binding === null) assert.fail(`native addon not available: ${loaded.reason}`);
  return loaded.binding;
}

/** The whole addon, libdeflate part included; fails the calling test when that is not there. */
export function lib(): NativeBinding & LibdeflateBinding {
  const loaded = loadLibdeflate();
  if (loaded.binding === null) assert.fail(`libdeflate part not available: ${loaded.reason}`);
  return loaded.binding;
}

/** Deterministic PRNG (mulberry32). */
export const prng = mulberry32;

export function randomBytes(n: number, seed: number): Buffer {
  const next = prng(seed);
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = (next() * 256) | 0;
  return out;
}

const WORDS = ['the', 'quick', 'brown', 'fox', 'bundle', 'image', 'manifest', 'part', 'deflate', 'block', '\n', 'usr/lib/', '0000644', 'root'];
export function text(n: number, seed: number): Buffer {
  const next = prng(seed);
  let s = '';
  while (s.length < n) s += `${WORDS[(next() * WORDS.length) | 0]} `;
  return Buffer.from(s.slice(0, n), 'latin1');
}

let realData: Buffer | undefined;
/** Real binaries: the bytes of the files in /usr/bin (sorted by name), concatenated, cut to n. */
export function mixedReal(n: number): Buffer {
  if (!realData || realData.length < n) {
    const parts: Buffer[] = [];
    let total = 0;
    for (const name of readdirSync('/usr/bin').sort()) {
      if (total >= Math.max(n, 9 * MiB)) break;
      const path = join('/usr/bin', name);
      try {
        if (!lstatSync(path).isFile()) continue;
        const b = readFileSync(path);
        parts.push(b);
        total += b.length;
      } catch {
        // unreadable: skip
      }
    }
    realData = Buffer.concat(parts);
    assert.ok(realData.length >= n, `only ${realData.length} bytes of /usr/bin files, need ${n}`);
  }
  return realData.subarray(0, n);
}

/**
 * Random mixture of segments: random bytes, runs of one byte, text, and copies of earlier data
 * (near and far), so that pieces hit literals, matches, stored and Huffman blocks.
 */
export function mixture(n: number, next: () => number): Buffer {
  const out = Buffer.alloc(n);
  let i = 0;
  while (i < n) {
    const len = Math.min(n - i, 1 + Math.floor(next() ** 3 * 40000));
    const kind = Math.floor(next() * 4);
    if (kind === 0) {
      for (let k = 0; k < len; k++) out[i + k] = (next() * 256) | 0;
    } else if (kind === 1) {
      out.fill((next() * 256) | 0, i, i + len);
    } else if (kind === 2) {
      text(len, (next() * 2 ** 31) | 0).copy(out, i);
    } else if (i > 0) {
      const from = Math.floor(next() * i);
      for (let k = 0; k < len; k++) out[i + k] = out[from + (k % (i - from))] ?? 0;
    }
    i += len;
  }
  return out;
}

/** Splits data into blocks of the given sizes (the last block takes the rest). */
export function split(data: Buffer, sizes: number[]): Buffer[] {
  const blocks: Buffer[] = [];
  let off = 0;
  for (const s of sizes) {
    blocks.push(data.subarray(off, Math.min(off + s, data.length)));
    off = Math.min(off + s, data.length);
  }
  blocks.push(data.subarray(off));
  return blocks;
}

export function blocksOf(data: Buffer, size: number): Buffer[] {
  const sizes: number[] = [];
  for (let off = size; off < data.length; off += size) sizes.push(size);
  return split(data, sizes);
}

/** Compresses the blocks into pieces, only the last one final, checking every piece on the way. */
export function compressPieces(blocks: Buffer[], level: number | ((i: number) => number)): Buffer[] {
  return blocks.map((block, i) => {
    const final = i === blocks.length - 1;
    const piece = lib().deflatePiece(block, typeof level === 'number' ? level : level(i), final);
    if (final) assertFinalPiece(piece, block);
    else assertNonFinalPiece(piece, block);
    return piece;
  });
}

/** A final stored block holding "END!": BFINAL=1, BTYPE=00, pad, LEN=4, NLEN=~4, data. */
const FINAL_END_BLOCK = Buffer.from([0x01, 0x04, 0x00, 0xfb, 0xff, 0x45, 0x4e, 0x44, 0x21]);

/**
 * A non-final piece: ends with 00 00 ff ff, inflates to its input, is not a finished stream, and
 * holds no final block: zlib stops at the first final block, so data placed after the piece must
 * come out too.
 */
export function assertNonFinalPiece(piece: Buffer, input: Uint8Array): void {
  assert.deepEqual([...piece.subarray(-4)], [0x00, 0x00, 0xff, 0xff], 'non-final piece must end with 00 00 ff ff');
  assert.ok(piece.length >= 5, 'a sync marker needs at least 5 bytes');
  const partial = zlib.inflateRawSync(piece, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  assert.ok(partial.equals(input), 'non-final piece does not inflate to its input');
  assert.throws(() => zlib.inflateRawSync(piece), /unexpected end of file/, 'a non-final piece must not end the stream');
  const followed = zlib.inflateRawSync(Buffer.concat([piece, FINAL_END_BLOCK]));
  assert.ok(followed.equals(Buffer.concat([input, Buffer.from('END!')])), 'data after a non-final piece was not inflated: it holds a final block');
}

/** A final piece: a complete raw deflate stream of the input that ends exactly at its last byte. */
export function assertFinalPiece(piece: Buffer, input: Uint8Array): void {
  assert.ok(zlib.inflateRawSync(piece).equals(input), 'final piece does not inflate to its input');
  const walked = core().walkBlocks(piece);
  assert.equal(Math.ceil(walked.endBit / 8), piece.length, 'final piece has bytes after its final block');
}

export function inflateAll(pieces: Buffer[]): Buffer {
  return zlib.inflateRawSync(Buffer.concat(pieces));
}

/** One gzip member: header (no name, XFL 0, OS 3 = Unix), the pieces, CRC-32 and ISIZE (LE). */
export function gzipMember(pieces: Buffer[], data: Uint8Array): Buffer {
  const header = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03]);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(zlib.crc32(data), 0);
  trailer.writeUInt32LE(data.length % 2 ** 32, 4);
  return Buffer.concat([header, ...pieces, trailer]);
}
