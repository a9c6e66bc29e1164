/*
 * @bundlefarm/native: bundlefarm's native addon, built at install by scripts/build.mjs (which never
 * fails the install). One addon; its core needs only a C compiler and Node's headers, its libdeflate
 * part needs libdeflate's header too:
 *
 *  core (loadNative):
 *  - aesCbcEncrypt: AES-128-CBC in place with Node's own OpenSSL, without node:crypto's allocation,
 *    zero-fill and copy per call.
 *  - dataRuns: the data runs of a sparse file from SEEK_DATA/SEEK_HOLE, as `tar -S` finds them.
 *  - alignedOffset: where a buffer's memory reaches an aligned address, so parts can be written with
 *    O_DIRECT (which needs aligned memory) without a bounce copy.
 *  - walkBlocks: the deflate block walker (for tests and tools; the pieces use it inside C).
 *  libdeflate (loadLibdeflate), when the addon was built with it:
 *  - deflatePiece: a block of the tar stream compressed with the system libdeflate into a *piece* of
 *    raw deflate. Non-final pieces hold no block with BFINAL=1 and end byte-aligned with an empty stored
 *    block (`00 00 ff ff`, as zlib's Z_SYNC_FLUSH), so pieces concatenate into one deflate stream — one
 *    gzip member once framed. libdeflate always ends with a final block; piece.c clears it after
 *    walker.c has found it.
 *  - crc32: libdeflate's CRC-32 (PCLMULQDQ), about twice zlib's speed.
 *
 * BUNDLEFARM_NATIVE=off (read on every call) turns the whole addon off: loadNative() and
 * loadLibdeflate() return `{ binding: null, reason }` and bundlefarm uses node:crypto, a read-based
 * hole scan, buffered part writes and zlib. (Choosing only the deflate backend is the engine's
 * BUNDLEFARM_DEFLATE.)
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The addon as built by scripts/build.mjs (resolved from src/ or dist/, both one level below the package root). */
const BUILT_BINDING_PATH = fileURLToPath(new URL('../build/Release/bundlefarm_native.node', import.meta.url));

/**
 * The addon this process loads: BUNDLEFARM_NATIVE_ADDON (the path of another build of it, e.g. one
 * built without libdeflate in a test, read once at start-up) or the one build.mjs built.
 */
export const BINDING_PATH = process.env.BUNDLEFARM_NATIVE_ADDON || BUILT_BINDING_PATH;

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

/** The addon's core: present whenever the addon is built. Plain N-API functions: they use no `this` and may be taken off the object. */
export interface NativeBinding {
  /** Walks a complete raw deflate stream without inflating it; throws if it is malformed. */
  walkBlocks: (raw: Uint8Array) => DeflateBlocks;
  /**
   * Data runs of an open file as [offset, length, ...]; throws (with `errno`) when the filesystem cannot
   * tell, a RangeError for a negative or non-integer fd or size.
   */
  dataRuns: (fd: number, size: number) => number[];
  /**
   * AES-128-CBC of `buf` in place (length a multiple of 16, no padding), chained from `iv`, which is
   * replaced by the last ciphertext block so that calls chain as one stream. Uses the OpenSSL inside
   * Node; throws when it cannot be found (see aesCbcAvailable), and a TypeError when `key` or `iv`
   * share memory with `buf`.
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
  /** libdeflate's version (e.g. "1.14") when the addon was built with it, else null. */
  readonly libdeflate: string | null;
}

/** The addon's libdeflate part: present when libdeflate.h was found when it was built. */
export interface LibdeflateBinding {
  /**
   * Raw deflate of `input` (no preset dictionary) at `level` 0..12. When `final` is false the
   * result has no final block and ends with `00 00 ff ff`, so more pieces can follow it.
   * Throws TypeError / RangeError on bad arguments (code ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE).
   */
  deflatePiece: (input: Uint8Array, level: number, final: boolean) => Buffer;
  /** CRC-32 (gzip's) of `input`, continuing from `initial` (default 0), like zlib.crc32. */
  crc32: (input: Uint8Array, initial?: number) => number;
  /** libdeflate's version, e.g. "1.14". */
  version: () => string;
}

export type LoadResult = { binding: NativeBinding } | { binding: null; reason: string };
/** The whole addon when it has its libdeflate part. */
export type LibdeflateLoadResult = { binding: NativeBinding & LibdeflateBinding } | { binding: null; reason: string };

/** The command that adds the libdeflate part (printed by the build too). */
const ADD_LIBDEFLATE = 'apt-get install libdeflate-dev && npm rebuild';

/**
 * Why BUNDLEFARM_NATIVE turns the addon off, or undefined when it does not. `off` (also `0`, `false`,
 * `no`) turns it off; unset, empty, `on`, `auto`, `1`, `true` and `yes` leave it on. Any other value
 * turns it off too, with a warning (once per thread): whoever sets the variable means to change the
 * default, and a typo must not pass unnoticed.
 */
export function nativeSwitchedOff(): string | undefined {
  const value = process.env.BUNDLEFARM_NATIVE;
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (['', 'on', 'auto', '1', 'true', 'yes'].includes(v)) return undefined;
  if (['off', '0', 'false', 'no'].includes(v)) return `BUNDLEFARM_NATIVE=${value} turns the native addon off`;
  if (!warned) {
    warned = true;
    process.emitWarning(`BUNDLEFARM_NATIVE=${JSON.stringify(value)} is neither "off" nor "on": the native addon is off`, { code: 'BUNDLEFARM_NATIVE' });
  }
  return `BUNDLEFARM_NATIVE=${value} (not "on"): the native addon is off`;
}
let warned = false;

type RawAddon = NativeBinding & Partial<LibdeflateBinding>;
let cached: { binding: RawAddon } | { binding: null; reason: string } | undefined;

/** Loads the addon's core once per thread (each worker thread gets its own instance). */
export function loadNative(): LoadResult {
  const off = nativeSwitchedOff();
  if (off) return { binding: null, reason: off };
  cached ??= load();
  return cached;
}

/** The addon's libdeflate part, or null with the reason (and the command that adds it). */
export function loadLibdeflate(): LibdeflateLoadResult {
  const loaded = loadNative();
  if (!loaded.binding) return loaded;
  const b = loaded.binding as RawAddon;
  if (typeof b.deflatePiece !== 'function' || typeof b.crc32 !== 'function' || typeof b.version !== 'function') {
    return { binding: null, reason: `the native addon was built without libdeflate (libdeflate.h was not found; ${ADD_LIBDEFLATE})` };
  }
  return { binding: b as NativeBinding & LibdeflateBinding };
}

function load(): { binding: RawAddon } | { binding: null; reason: string } {
  try {
    const binding = createRequire(import.meta.url)(BINDING_PATH) as RawAddon;
    return { binding };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'MODULE_NOT_FOUND'
        ? `the native addon is not built (${BINDING_PATH}; needs a C compiler, make and python3, then npm rebuild)`
        : `the native addon did not load: ${(err as Error).message}`;
    return { binding: null, reason };
  }
}
