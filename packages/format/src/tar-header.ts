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

function writeNumber(block: Buffer, offset: number, width: number, value: number): void {
  if (value > MAX_OCTAL_11) writeBase256(block, offset, width, value);
  else writeOctal(block, offset, width, value);
}

function finishChecksum(block: Buffer): Buffer {
  // checksum: sum of all header bytes with the checksum field read as 8 spaces
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK_SIZE; i++) sum += block[i]!;
  block.write(sum.toString(8).padStart(6, '0'), 148, 'ascii');
  block[154] = 0;
  block[155] = 0x20;
  return block;
}

export function buildTarHeader(info: TarMemberInfo): Buffer {
  return finishChecksum(baseHeader(info, info.size, 0x30));
}

function baseHeader(info: TarMemberInfo, storedSize: number, typeflag: number): Buffer {
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
  writeNumber(block, 124, 12, storedSize);
  writeOctal(block, 136, 12, Math.max(0, Math.floor(info.mtime ?? 0)));
  block[156] = typeflag;
  block.write('ustar ', 257, 'ascii'); // GNU magic
  block.write(' \0', 263, 'ascii'); // GNU version
  block.write('root', 265, 'ascii'); // uname
  block.write('root', 297, 'ascii'); // gname
  return block;
}

/** A run of data in a sparse image: everything outside the runs is zeros. */
export interface DataRun {
  offset: number;
  length: number;
}

/**
 * Header blocks of an old-GNU sparse member (typeflag 'S'), as `tar -S` writes it for a sparse image:
 * the first 4 map entries in the header, 21 more per extension block, the real size at offset 483, and
 * GNU tar's terminating entry (real size, 0). The member's data is the runs' bytes, concatenated.
 */
export function buildSparseTarHeader(info: TarMemberInfo, runs: readonly DataRun[]): Buffer {
  const entries: DataRun[] = [...runs, { offset: info.size, length: 0 }];
  const stored = runs.reduce((s, r) => s + r.length, 0);
  const extBlocks = entries.length > 4 ? Math.ceil((entries.length - 4) / 21) : 0;
  const out = Buffer.alloc(TAR_BLOCK_SIZE * (1 + extBlocks));
  const header = baseHeader(info, stored, 0x53); // 'S'
  writeNumber(header, 483, 12, info.size); // real size
  const writeEntry = (block: Buffer, at: number, e: DataRun): void => {
    writeNumber(block, at, 12, e.offset);
    writeNumber(block, at + 12, 12, e.length);
  };
  entries.slice(0, 4).forEach((e, i) => writeEntry(header, 386 + 24 * i, e));
  header[482] = extBlocks > 0 ? 1 : 0;
  finishChecksum(header).copy(out, 0);
  for (let b = 0; b < extBlocks; b++) {
    const block = out.subarray(TAR_BLOCK_SIZE * (1 + b), TAR_BLOCK_SIZE * (2 + b));
    entries.slice(4 + 21 * b, 4 + 21 * (b + 1)).forEach((e, i) => writeEntry(block, 24 * i, e));
    block[504] = b < extBlocks - 1 ? 1 : 0;
  }
  return out;
}

/** Bytes of zero padding after the member data so it ends on a 512-byte block. */
export function tarDataPadding(size: number): number {
  return (TAR_BLOCK_SIZE - (size % TAR_BLOCK_SIZE)) % TAR_BLOCK_SIZE;
}

/**
 * Total length of the tar stream of one member of `size` stored bytes: header (`headerBytes`, more than
 * one block for sparse members), data, padding to 512, two zero blocks of end-of-archive, then zeros up to
 * a multiple of the 10240-byte record.
 */
export function tarStreamLength(size: number, headerBytes = TAR_BLOCK_SIZE): number {
  const body = headerBytes + size + tarDataPadding(size) + 2 * TAR_BLOCK_SIZE;
  return Math.ceil(body / TAR_RECORD_SIZE) * TAR_RECORD_SIZE;
}
