import { TAR_BLOCK_SIZE, TAR_RECORD_SIZE } from './limits.js';

/**
 * The one tar member of a bundle, as GNU tar writes it for `tar -c -h --owner 0 --group 0 -C DIR NAME`
 * (GNU format, blocking factor 20): magic "ustar " + version " \0", uid/gid 0 with uname/gname "root",
 * 7-digit octal numeric fields, an 11-digit octal size or, above 8 GiB - 1, a base-256 size, and the
 * GNU checksum spelling (6 octal digits, NUL, space).
 */
export interface TarMemberInfo {
  /** Member name: the bundle name, one path component, at most 100 bytes. */
  name: string;
  /** Size of the file in bytes. */
  size: number;
  /** Permission bits (default 0o644). */
  mode?: number;
  /** Modification time in whole seconds since the epoch (default 0). */
  mtime?: number;
}

const MAX_OCTAL_11 = 0o77777777777; // 8 GiB - 1

function writeOctal(block: Buffer, offset: number, width: number, value: number): void {
  // width includes the trailing NUL
  const digits = value.toString(8).padStart(width - 1, '0');
  if (digits.length > width - 1) throw new RangeError(`value ${value} does not fit a ${width - 1}-digit octal field`);
  block.write(digits, offset, 'ascii');
  block[offset + width - 1] = 0;
}

/** GNU base-256 numeric field: first byte 0x80, the value big-endian in the remaining bytes. */
function writeBase256(block: Buffer, offset: number, width: number, value: number): void {
  let v = BigInt(value);
  for (let i = offset + width - 1; i > offset; i--) {
    block[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  block[offset] = 0x80;
}

export function buildTarHeader(info: TarMemberInfo): Buffer {
  const nameBytes = Buffer.from(info.name, 'utf8');
  if (nameBytes.length === 0 || nameBytes.length > 100) {
    throw new RangeError(`tar member name must be 1..100 bytes, got ${nameBytes.length}`);
  }
  if (!Number.isSafeInteger(info.size) || info.size < 0) throw new RangeError(`bad tar member size ${info.size}`);
  const block = Buffer.alloc(TAR_BLOCK_SIZE);
  nameBytes.copy(block, 0);
  writeOctal(block, 100, 8, (info.mode ?? 0o644) & 0o7777);
  writeOctal(block, 108, 8, 0); // uid
  writeOctal(block, 116, 8, 0); // gid
  if (info.size > MAX_OCTAL_11) writeBase256(block, 124, 12, info.size);
  else writeOctal(block, 124, 12, info.size);
  writeOctal(block, 136, 12, Math.max(0, Math.floor(info.mtime ?? 0)));
  block[156] = 0x30; // typeflag '0': regular file
  block.write('ustar ', 257, 'ascii'); // GNU magic
  block.write(' \0', 263, 'ascii'); // GNU version
  block.write('root', 265, 'ascii'); // uname
  block.write('root', 297, 'ascii'); // gname
  // checksum: sum of all header bytes with the checksum field read as 8 spaces
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK_SIZE; i++) sum += block[i]!;
  block.write(sum.toString(8).padStart(6, '0'), 148, 'ascii');
  block[154] = 0;
  block[155] = 0x20;
  return block;
}

/** Bytes of zero padding after the member data so it ends on a 512-byte block. */
export function tarDataPadding(size: number): number {
  return (TAR_BLOCK_SIZE - (size % TAR_BLOCK_SIZE)) % TAR_BLOCK_SIZE;
}

/**
 * Total length of the tar stream of one member of `size` bytes: header, data, padding to 512, two zero
 * blocks of end-of-archive, then zeros up to a multiple of the 10240-byte record.
 */
export function tarStreamLength(size: number): number {
  const body = TAR_BLOCK_SIZE + size + tarDataPadding(size) + 2 * TAR_BLOCK_SIZE;
  return Math.ceil(body / TAR_RECORD_SIZE) * TAR_RECORD_SIZE;
}

/** Bytes of zeros after the padded member data: end-of-archive blocks plus record padding. */
export function tarTrailerLength(size: number): number {
  return tarStreamLength(size) - TAR_BLOCK_SIZE - size - tarDataPadding(size);
}
