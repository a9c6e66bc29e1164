/**
 * @bundlefarm/native: bundlefarm's optional native addon, built at install when libdeflate's headers and
 * a C compiler are present (scripts/build.mjs never fails the install).
 *
 *  - deflatePiece: a block of the tar stream compressed with the system libdeflate into a *piece* of
 *    raw deflate. Non-final pieces hold no block with BFINAL=1 and end byte-aligned with an empty stored
 *    block (`00 00 ff ff`, as zlib's Z_SYNC_FLUSH), so pieces concatenate into one deflate stream — one
 *    gzip member once framed. libdeflate always ends with a final block; piece.c clears it after
 *    walker.c has found it.
 *  - crc32: libdeflate's CRC-32 (PCLMULQDQ), about twice zlib's speed.
 *  - dataRuns: the data runs of a sparse file from SEEK_DATA/SEEK_HOLE, as `tar -S` finds them.
 *  - aesCbcEncrypt: AES-128-CBC in place with Node's own OpenSSL, without node:crypto's allocation,
 *    zero-fill and copy per call.
 *  - alignedOffset: where a buffer's memory reaches an aligned address, so parts can be written with
 *    O_DIRECT (which needs aligned memory) without a bounce copy.
 *
 * When the addon is missing, or BUNDLEFARM_DEFLATE=zlib (read on every call), loadNative() returns
 * `{ binding: null, reason }` and bundlefarm uses zlib and a read-based hole scan.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The compiled addon (resolved from src/ or dist/, both one level below the package root). */
export const BINDING_PATH = fileURLToPath(new URL('../build/Release/bundlefarm_native.node', import.meta.url));

/** Highest libdeflate compression level (0 stores only; 1-9 like zlib; 10-12 are slower, smaller). */
export const MAX_LEVEL = 12;

/** The last 4 bytes of every non-final piece: LEN/NLEN of the empty stored block. */
export const SYNC_FLUSH_TRAILER: Readonly<Uint8Array> = Uint8Array.of(0x00, 0x00, 0xff, 0xff);

/** Where the blocks of a complete raw deflate stream are (bit offsets count from bit 0 of byte 0). */
export interface DeflateBlocks {
  /** Number of blocks, the final one included. */
  blocks: number;
  /** Bit offset of the final block's BFINAL bit. */
  finalHeaderBit: number;
  /** Bit offset just past the final block's end-of-block code. */
  endBit: number;
}

/** The addon's functions: plain N-API functions, which use no `this` and may be taken off the object. */
export interface NativeBinding {
  /**
   * Raw deflate of `input` (no preset dictionary) at `level` 0..12. When `final` is false the
   * result has no final block and ends with `00 00 ff ff`, so more pieces can follow it.
   * Throws TypeError / RangeError on bad arguments (code ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE).
   */
  deflatePiece: (input: Uint8Array, level: number, final: boolean) => Buffer;
  /** CRC-32 (gzip's) of `input`, continuing from `initial` (default 0), like zlib.crc32. */
  crc32: (input: Uint8Array, initial?: number) => number;
  /** Walks a complete raw deflate stream without inflating it; throws if it is malformed. */
  walkBlocks: (raw: Uint8Array) => DeflateBlocks;
  /** Data runs of an open file as [offset, length, ...]; throws (with `errno`) when the filesystem cannot tell. */
  dataRuns: (fd: number, size: number) => number[];
  /** libdeflate's version, e.g. "1.14". */
  version: () => string;
  /**
   * AES-128-CBC of `buf` in place (length a multiple of 16, no padding), chained from `iv`, which is
   * replaced by the last ciphertext block so that calls chain as one stream. Uses the OpenSSL inside
   * Node; throws when it cannot be found (see aesCbcAvailable).
   */
  aesCbcEncrypt: (key: Uint8Array, iv: Uint8Array, buf: Uint8Array) => void;
  /** Whether aesCbcEncrypt can run (Node's OpenSSL functions were found in the process). */
  aesCbcAvailable: () => boolean;
  /**
   * Bytes from the start of `view` to the first memory address that is a multiple of `alignment` (a
   * power of two): 0 when the view is aligned. For buffers handed to O_DIRECT writes, which need aligned
   * memory. The address of an ArrayBuffer does not change when it is transferred to another thread.
   */
  alignedOffset: (view: Uint8Array, alignment: number) => number;
}

export type LoadResult = { binding: NativeBinding } | { binding: null; reason: string };

let cached: LoadResult | undefined;

/** Loads the addon once per thread (each worker thread gets its own instance and compressors). */
export function loadNative(): LoadResult {
  if (process.env.BUNDLEFARM_DEFLATE === 'zlib') {
    return { binding: null, reason: 'BUNDLEFARM_DEFLATE=zlib forces the zlib fallback' };
  }
  cached ??= load();
  return cached;
}

function load(): LoadResult {
  try {
    const binding = createRequire(import.meta.url)(BINDING_PATH) as NativeBinding;
    return { binding };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'MODULE_NOT_FOUND'
        ? `the native addon is not built (${BINDING_PATH}; needs libdeflate-dev and a C compiler, then npm run build)`
        : `the native addon did not load: ${(err as Error).message}`;
    return { binding: null, reason };
  }
}
