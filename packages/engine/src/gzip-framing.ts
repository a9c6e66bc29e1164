/**
 * The frame of the single gzip member bundlefarm writes around its deflate pieces. Same header as
 * `gzip -9` reading a pipe in ec2-bundle-image (no name, MTIME 0, XFL 2, OS 3 = Unix); trailer CRC-32
 * and ISIZE (length mod 2^32), little-endian.
 */
export const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03]);

export function gzipTrailer(crc: number, length: number): Buffer {
  const t = Buffer.alloc(8);
  t.writeUInt32LE(crc >>> 0, 0);
  t.writeUInt32LE(length % 0x100000000, 4);
  return t;
}
