/**
 * Piscina worker: the CPU work of bundling that parallelizes — compressing blocks of the tar stream
 * (with their CRC-32) and hashing finished parts. Buffers come in and go back by transfer, not copy.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { Piscina } from 'piscina';
import { resolveBackend, type DeflateBackendName } from './deflate-backend.js';
import { storedBlocks, storedBlocksLength } from './stored-blocks.js';

export interface CompressTask {
  data: Uint8Array;
  /** Last 32 KiB of the previous block (zlib backend only). */
  dictionary?: Uint8Array;
  level: number;
  final: boolean;
  backend: DeflateBackendName | 'auto';
}

export type PieceMode = 'deflate' | 'stored' | 'zero';

export interface CompressResult {
  piece: Uint8Array;
  crc: number;
  mode: PieceMode;
  /** The input block, handed back for reuse. */
  data: Uint8Array;
}

export interface HashTask {
  data: Uint8Array;
}

export interface HashResult {
  sha1: string;
  data: Uint8Array;
}

/** A view that owns its whole ArrayBuffer (never a slice of Node's shared Buffer pool), safe to transfer. */
export function standalone(u8: Uint8Array): Uint8Array {
  return u8.byteOffset === 0 && u8.byteLength === u8.buffer.byteLength && !(u8.buffer instanceof SharedArrayBuffer)
    ? u8
    : new Uint8Array(u8);
}

/** Returns `value` to the main thread with `buffers` transferred, not copied (Piscina's Transferable). */
function transfer<T extends object>(value: T, buffers: ArrayBufferLike[]): T {
  const unique = [...new Set(buffers)];
  const movable = {
    get [Piscina.transferableSymbol]() {
      return unique;
    },
    get [Piscina.valueSymbol]() {
      return value;
    },
  };
  return Piscina.move(movable as unknown as Parameters<typeof Piscina.move>[0]) as unknown as T;
}

const zeroPieces = new Map<string, { piece: Uint8Array; crc: number }>();
let zeros = new Uint8Array(0);

function isAllZero(data: Uint8Array): boolean {
  if (zeros.length < data.length) zeros = new Uint8Array(data.length);
  return Buffer.from(data.buffer, data.byteOffset, data.length).equals(zeros.subarray(0, data.length));
}

const SAMPLE = 8 * 1024;

/** Cheap test on two small samples: does this block look incompressible (random, encrypted, packed)? */
function looksIncompressible(data: Uint8Array, compress: (d: Uint8Array) => Uint8Array): boolean {
  if (data.length < 4 * SAMPLE) return false;
  for (const at of [0, data.length >>> 1]) {
    const sample = data.subarray(at, at + SAMPLE);
    if (compress(sample).length < sample.length * 0.97) return false;
  }
  return true;
}

export function compress(task: CompressTask): CompressResult {
  const { data, level, final } = task;
  const backend = resolveBackend(task.backend);
  let piece: Uint8Array;
  let mode: PieceMode;
  let crc: number;
  if (!final && isAllZero(data)) {
    const key = `${backend.name}:${data.length}:${level}`;
    let z = zeroPieces.get(key);
    if (!z) {
      z = { piece: backend.deflatePiece(new Uint8Array(data.length), level, false), crc: crc32(new Uint8Array(data.length)) };
      zeroPieces.set(key, z);
    }
    // copy: the cached piece must stay here while this one is transferred away
    piece = new Uint8Array(z.piece);
    crc = z.crc;
    mode = 'zero';
  } else {
    crc = crc32(data);
    if (looksIncompressible(data, (s) => backend.deflatePiece(s, 1, true))) {
      piece = storedBlocks(data, final);
      mode = 'stored';
    } else {
      piece = backend.deflatePiece(data, level, final, backend.usesDictionary ? task.dictionary : undefined);
      mode = 'deflate';
      if (piece.length >= storedBlocksLength(data.length)) {
        piece = storedBlocks(data, final);
        mode = 'stored';
      }
    }
  }
  piece = standalone(piece);
  const buffers = [piece.buffer, data.buffer];
  return transfer({ piece, crc, mode, data }, buffers);
}

export function sha1(task: HashTask): HashResult {
  const digest = createHash('sha1').update(task.data).digest('hex');
  return transfer({ sha1: digest, data: task.data }, [task.data.buffer]);
}
