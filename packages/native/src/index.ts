import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Loader of bundlefarm's optional native addon (built at install when libdeflate's headers and a C
 * compiler are present): libdeflate-based deflate pieces, libdeflate's CRC-32, and SEEK_DATA/SEEK_HOLE
 * for sparse files. `loadNative()` never throws: when the addon is missing or does not load it says why
 * and bundlefarm falls back to zlib and a read-based hole scan. `BUNDLEFARM_DEFLATE=zlib` forces that.
 */
export interface NativeBinding {
  /**
   * Raw deflate of `input`. Non-final pieces contain no final block and end byte-aligned with a sync
   * flush marker (`00 00 ff ff`), so that pieces concatenate into one deflate stream.
   */
  deflatePiece(input: Uint8Array, level: number, final: boolean): Buffer;
  /** CRC-32 (gzip's), continuing from `initial`. */
  crc32(input: Uint8Array, initial?: number): number;
  /** Data runs of an open file as [offset, length, ...]; throws (with `errno`) when the filesystem cannot tell. */
  dataRuns(fd: number, size: number): number[];
  /** libdeflate's version string. */
  version(): string;
}

export type LoadResult = { binding: NativeBinding } | { binding: null; reason: string };

export const BINDING_PATH = fileURLToPath(new URL('../build/Release/bundlefarm_native.node', import.meta.url));

let loaded: LoadResult | undefined;

export function loadNative(): LoadResult {
  if (loaded) return loaded;
  if (process.env.BUNDLEFARM_DEFLATE === 'zlib') {
    loaded = { binding: null, reason: 'BUNDLEFARM_DEFLATE=zlib forces the pure JavaScript paths' };
  } else if (!existsSync(BINDING_PATH)) {
    loaded = { binding: null, reason: 'the native addon was not built (install libdeflate-dev and a C compiler, then npm run build)' };
  } else {
    try {
      const require = createRequire(import.meta.url);
      loaded = { binding: require(BINDING_PATH) as NativeBinding };
    } catch (err) {
      loaded = { binding: null, reason: `the native addon did not load: ${(err as Error).message}` };
    }
  }
  return loaded;
}
