import { constants, deflateRawSync } from 'node:zlib';
import { loadNative } from '@bundlefarm/native';

/**
 * A deflater that produces *pieces* of one raw deflate stream: a non-final piece ends byte-aligned with
 * a sync flush and holds no final block, the final piece ends the stream. Two implementations:
 *  - `libdeflate`: the project's native addon over the system libdeflate (faster, better ratio; no
 *    preset dictionary, so each block is compressed on its own);
 *  - `zlib`: Node's zlib, primed with the previous block's last 32 KiB as dictionary (always present).
 */
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

let cached: { backend: DeflateBackend | null; reason: string } | undefined;

/** The libdeflate backend, or null with the reason it cannot be used on this machine. */
export function libdeflateBackend(): { backend: DeflateBackend | null; reason: string } {
  if (!cached) {
    const loaded = loadNative();
    if (loaded.binding) {
      const binding = loaded.binding;
      cached = {
        reason: '',
        backend: {
          name: 'libdeflate',
          usesDictionary: false,
          deflatePiece: (data, level, final) => binding.deflatePiece(data, level, final),
        },
      };
    } else {
      cached = { backend: null, reason: loaded.reason };
    }
  }
  return cached;
}

/** Resolve a backend preference: 'auto' picks libdeflate when it loads, zlib otherwise. */
export function resolveBackend(preference: DeflateBackendName | 'auto'): DeflateBackend {
  if (preference === 'zlib') return zlibBackend;
  const lib = libdeflateBackend();
  if (lib.backend) return lib.backend;
  if (preference === 'libdeflate') throw new Error(`libdeflate backend unavailable: ${lib.reason}`);
  return zlibBackend;
}
