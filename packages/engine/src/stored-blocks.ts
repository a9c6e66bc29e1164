/**
 * Deflate "stored" blocks (BTYPE 00): the data verbatim in chunks of at most 65535 bytes, each after a
 * 5-byte header (1 byte BFINAL/BTYPE with padding, LEN, NLEN). Used for blocks that do not compress, so
 * incompressible images run at copy speed. The previous piece must end byte-aligned (it does: pieces end
 * with a sync flush), and this piece ends byte-aligned too.
 */
const MAX_STORED = 65535;

export function storedBlocksLength(length: number): number {
  return length + 5 * Math.max(1, Math.ceil(length / MAX_STORED));
}
