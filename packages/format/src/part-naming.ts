import { MAX_IMAGE_SIZE, PART_SIZE, TAR_BLOCK_SIZE } from './limits.js';
import { tarStreamLength } from './tar-header.js';

/** Number of parts for a ciphertext of `bundledSize` bytes (the last part is never empty). */
export function partCount(bundledSize: number, partSize = PART_SIZE): number {
  return Math.max(1, Math.ceil(bundledSize / partSize));
}

/**
 * The largest ciphertext (`bundled_size`) any bundler can make of an image of `size` bytes: its tar
 * stream (with up to 64 KiB of pax / long-name headers), deflate's worst-case growth (zlib's
 * `deflateBound`: incompressible data stored in blocks), gzip framing with room for a file name or extra
 * field, then AES-CBC's padding.
 */
export function maxBundledSize(size: number): number {
  const tar = tarStreamLength(size, TAR_BLOCK_SIZE + 64 * 1024);
  const gzip = tar + Math.floor(tar / 4096) + Math.floor(tar / 16384) + Math.floor(tar / 2 ** 25) + 13 + 18 + 1024;
  return (Math.floor(gzip / 16) + 1) * 16;
}

/**
 * Most parts a manifest may list: what an image at the 10 GiB limit can need in 10 MiB parts (1025),
 * plus one for the trailing empty part euca2ools lists when the ciphertext fills its last part exactly.
 * The parser refuses more before it reads them (a 30 000-part manifest is hostile, not big).
 */
export const MAX_PART_COUNT = partCount(maxBundledSize(MAX_IMAGE_SIZE)) + 1;

/**
 * `NAME.part.K` with K zero-padded to the number of decimal digits of the part *count*, as
 * ec2-bundle-image names them: 9 parts → .part.0 … .part.8; 10 → .part.00 … .part.09; 101 → .part.000 … .part.100.
 */
export function partName(name: string, index: number, count: number): string {
  return `${name}.part.${String(index).padStart(String(count).length, '0')}`;
}

export function manifestName(name: string): string {
  return `${name}.manifest.xml`;
}
