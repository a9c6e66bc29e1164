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

export function storedBlocks(data: Uint8Array, final: boolean): Buffer {
  const out = Buffer.allocUnsafe(storedBlocksLength(data.length));
  let pos = 0;
  let at = 0;
  do {
    const n = Math.min(MAX_STORED, data.length - at);
    const last = at + n === data.length;
    out[pos] = final && last ? 1 : 0;
    out.writeUInt16LE(n, pos + 1);
    out.writeUInt16LE(~n & 0xffff, pos + 3);
    out.set(data.subarray(at, at + n), pos + 5);
    pos += 5 + n;
    at += n;
  } while (at < data.length);
  return out;
}
