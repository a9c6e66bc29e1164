import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Loader of the optional N-API binding over the system libdeflate. `loadLibdeflate()` never throws: when
 * the binding was not built (no libdeflate headers on the machine, no compiler) or cannot load, it says
 * why and bundlefarm uses zlib. `BUNDLEFARM_DEFLATE=zlib` forces the fallback.
 */
export interface LibdeflateBinding {
  /**
   * Raw deflate of `input`. Non-final pieces contain no final block and end byte-aligned with a sync
   * flush marker (`00 00 ff ff`), so that pieces concatenate into one deflate stream.
   */
  deflatePiece(input: Uint8Array, level: number, final: boolean): Buffer;
  /** libdeflate's version string. */
  version(): string;
}

export type LoadResult = { binding: LibdeflateBinding } | { binding: null; reason: string };

export const BINDING_PATH = fileURLToPath(new URL('../build/Release/bundlefarm_libdeflate.node', import.meta.url));

let loaded: LoadResult | undefined;

export function loadLibdeflate(): LoadResult {
  if (loaded) return loaded;
  if (process.env.BUNDLEFARM_DEFLATE === 'zlib') {
    loaded = { binding: null, reason: 'BUNDLEFARM_DEFLATE=zlib forces zlib' };
  } else if (!existsSync(BINDING_PATH)) {
    loaded = { binding: null, reason: 'the libdeflate binding was not built (install libdeflate-dev and run npm run build)' };
  } else {
    try {
      const require = createRequire(import.meta.url);
      loaded = { binding: require(BINDING_PATH) as LibdeflateBinding };
    } catch (err) {
      loaded = { binding: null, reason: `the libdeflate binding did not load: ${(err as Error).message}` };
    }
  }
  return loaded;
}
