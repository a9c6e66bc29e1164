/**
 * A deflater that produces *pieces* of one raw deflate stream: a non-final piece ends byte-aligned with
 * a sync flush and holds no final block, the final piece ends the stream. Two implementations:
 *  - `libdeflate`: the project's native addon over the system libdeflate (faster, better ratio; no
 *    preset dictionary, so each block is compressed on its own);
 *  - `zlib`: Node's zlib, primed with the previous block's last 32 KiB as dictionary (always present).
 */
import { constants, deflateRawSync } from 'node:zlib';
import { loadLibdeflate } from '@bundlefarm/native';

export type DeflateBackendName = 'libdeflate' | 'zlib';

export interface DeflateBackend {
  readonly name: DeflateBackendName;
  /** Whether pieces use the previous block's last 32 KiB as dictionary. */
  readonly usesDictionary: boolean;
  deflatePiece(data: Uint8Array, level: number, final: boolean, dictionary?: Uint8Array): Uint8Array;
}

export const zlibBackend: DeflateBackend = {
  name: 'zlib',
  usesDictionary: true,
  deflatePiece(data, level, final, dictionary) {
    return deflateRawSync(data, {
      level,
      memLevel: 9,
      ...(dictionary && dictionary.length > 0 ? { dictionary } : {}),
      finishFlush: final ? constants.Z_FINISH : constants.Z_SYNC_FLUSH,
      chunkSize: Math.max(64 * 1024, Math.min(data.length + 4096, 8 * 1024 * 1024)),
    });
  },
};

let libdeflate: DeflateBackend | undefined;

/** The libdeflate backend, or null with the reason it cannot be used on this machine. */
export function libdeflateBackend(): { backend: DeflateBackend | null; reason: string } {
  const loaded = loadLibdeflate();
  if (!loaded.binding) return { backend: null, reason: loaded.reason };
  const binding = loaded.binding;
  libdeflate ??= {
    name: 'libdeflate',
    usesDictionary: false,
    deflatePiece: (data, level, final) => binding.deflatePiece(data, level, final),
  };
  return { backend: libdeflate, reason: '' };
}

/**
 * What `auto` means here, from BUNDLEFARM_DEFLATE (read on every call): unset, empty or `auto`:
 * libdeflate when the addon has it, else zlib; `zlib`: zlib, with the rest of the native addon still
 * in use (before BUNDLEFARM_NATIVE=off existed, this variable turned the whole addon off); `libdeflate`:
 * libdeflate or an error. Anything else throws.
 */
export function deflatePreference(): DeflateBackendName | 'auto' {
  const value = process.env.BUNDLEFARM_DEFLATE;
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if (value === 'zlib' || value === 'libdeflate') return value;
  throw new Error(`BUNDLEFARM_DEFLATE must be "zlib", "libdeflate" or "auto", got ${JSON.stringify(value)}`);
}

/**
 * Resolve a backend preference: 'auto' follows BUNDLEFARM_DEFLATE, and picks libdeflate when it loads,
 * zlib otherwise; 'libdeflate' throws when it does not load.
 */
export function resolveBackend(preference: DeflateBackendName | 'auto'): DeflateBackend {
  const wanted = preference === 'auto' ? deflatePreference() : preference;
  if (wanted === 'zlib') return zlibBackend;
  const lib = libdeflateBackend();
  if (lib.backend) return lib.backend;
  if (wanted === 'libdeflate') throw new Error(`libdeflate backend unavailable: ${lib.reason}`);
  return zlibBackend;
}
