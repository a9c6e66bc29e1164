import { PART_SIZE } from './limits.js';

/** Number of parts for a ciphertext of `bundledSize` bytes (the last part is never empty). */
export function partCount(bundledSize: number, partSize = PART_SIZE): number {
  return Math.max(1, Math.ceil(bundledSize / partSize));
}

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
