/**
 * A streaming reader for the tar stream inside a bundle. A bundle holds exactly one regular file; this
 * reader accepts what real bundlers write — GNU (ec2-bundle-image, euca2ools), ustar/pax (Go's
 * aws_bundle), GNU long names and old-GNU sparse members (`tar -S` of a sparse image) — and refuses
 * everything else with an ArchiveInvalidError: links, devices, directories, names with `/` or `..`, a
 * leading dot or control/format characters, a name other than the expected one (the bundle's), a second
 * member, sizes over the limit, and truncated streams.
 *
 * `push` returns the file content found in each chunk as segments placed at file offsets, so the caller
 * can write with positional writes (and leave holes of sparse members as holes).
 */
import { ArchiveInvalidError } from '@bundlefarm/errors';
import { MAX_IMAGE_SIZE, TAR_BLOCK_SIZE } from './limits.js';
import { imageFileNameProblem, quoteName } from './safe-file-name.js';

export interface TarSegment {
  /** Offset in the extracted file. */
  offset: number;
  /** Bytes to place there (a view into the pushed chunk; consume it before the chunk is reused). */
  data: Buffer;
}

export interface TarMember {
  name: string;
  /** Size of the extracted file (the real size for sparse members). */
  size: number;
  mode: number;
  mtime: number;
  sparse: boolean;
}

export interface TarReaderOptions {
  /** Largest file accepted (default 10 GiB, the EC2 limit). */
  maxSize?: number;
  /** Largest pax or GNU long-name header accepted (default 64 KiB). */
  maxExtendedHeader?: number;
  /** Most sparse map entries accepted (default 1 048 576). */
  maxSparseEntries?: number;
  /**
   * The member's name must be exactly this (unbundle passes the manifest's `<image><name>`: every bundler
   * names the one member after the bundle). Default: any safe name.
   */
  expectedName?: string;
}

type State = 'header' | 'extended' | 'sparse-map' | 'data' | 'skip' | 'trailer';
interface SparseEntry {
  offset: number;
  length: number;
}

const BLOCK = TAR_BLOCK_SIZE;

export class TarMemberReader {
  private readonly maxSize: number;
  private readonly maxExtended: number;
  private readonly maxSparse: number;
  private readonly expectedName: string | undefined;

  private state: State = 'header';
  private readonly block = Buffer.alloc(BLOCK);
  private blockFill = 0;

  /** Pending extended header (pax 'x'/'g' or GNU 'L') being read. */
  private extKind: 'pax' | 'global' | 'longname' = 'pax';
  private extBuf: Buffer = Buffer.alloc(0);
  private extFill = 0;
  private extPad = 0;
  private paxPath: string | undefined;
  private paxSize: number | undefined;
  private longName: string | undefined;

  private current: TarMember | undefined;
  private sparseMap: SparseEntry[] = [];
  private sparseIndex = 0;
  private sparseUsed = 0;
  private dataLeft = 0;
  private filePos = 0;
  private skipLeft = 0;
  private done: TarMember | undefined;

  constructor(options: TarReaderOptions = {}) {
    this.maxSize = options.maxSize ?? MAX_IMAGE_SIZE;
    this.maxExtended = options.maxExtendedHeader ?? 64 * 1024;
    this.maxSparse = options.maxSparseEntries ?? 1 << 20;
    this.expectedName = options.expectedName;
  }

  /** The member, once its header has been read. */
  get member(): TarMember | undefined {
    return this.done ?? this.current;
  }

  push(chunk: Buffer): TarSegment[] {
    const out: TarSegment[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      switch (this.state) {
        case 'data': {
          const n = Math.min(this.dataLeft, chunk.length - pos);
          this.emit(chunk.subarray(pos, pos + n), out);
          pos += n;
          this.dataLeft -= n;
          if (this.dataLeft === 0) this.finishData();
          break;
        }
        case 'skip': {
          const n = Math.min(this.skipLeft, chunk.length - pos);
          pos += n;
          this.skipLeft -= n;
          if (this.skipLeft === 0) this.state = this.done ? 'trailer' : 'header';
          break;
        }
        case 'extended': {
          if (this.extFill < this.extBuf.length) {
            const n = Math.min(this.extBuf.length - this.extFill, chunk.length - pos);
            chunk.copy(this.extBuf, this.extFill, pos, pos + n);
            this.extFill += n;
            pos += n;
          } else {
            const n = Math.min(this.extPad, chunk.length - pos);
            pos += n;
            this.extPad -= n;
          }
          if (this.extFill === this.extBuf.length && this.extPad === 0) this.finishExtended();
          break;
        }
        default: {
          // header, sparse-map and trailer read whole 512-byte blocks
          const n = Math.min(BLOCK - this.blockFill, chunk.length - pos);
          chunk.copy(this.block, this.blockFill, pos, pos + n);
          this.blockFill += n;
          pos += n;
          if (this.blockFill === BLOCK) {
            this.blockFill = 0;
            this.onBlock();
          }
        }
      }
    }
    return out;
  }

  /** Call at the end of the stream: returns the member or throws if the stream was incomplete. */
  end(): TarMember {
    if (this.done && this.state === 'trailer' && this.blockFill === 0) return this.done;
    if (this.done) throw new ArchiveInvalidError('tar stream is truncated after the member');
    if (!this.current) throw new ArchiveInvalidError('tar stream holds no file');
    throw new ArchiveInvalidError(`tar stream ends inside member ${JSON.stringify(this.current.name)}`);
  }

  private onBlock(): void {
    const b = this.block;
    if (this.state === 'sparse-map') {
      this.readSparseEntries(b, 0, 21);
      if (b[504] === 0) this.startData();
      return;
    }
    const zero = isZero(b);
    if (this.state === 'trailer') {
      if (!zero) throw new ArchiveInvalidError('tar stream holds more than one member; a bundle holds exactly one file');
      return;
    }
    // state === 'header'
    if (zero) {
      if (this.paxPath !== undefined || this.longName !== undefined || this.paxSize !== undefined) {
        throw new ArchiveInvalidError('extended tar header is not followed by a member');
      }
      throw new ArchiveInvalidError('tar stream holds no file');
    }
    this.parseHeader(b);
  }

  private parseHeader(b: Buffer): void {
    verifyChecksum(b);
    const type = b[156] === 0 ? '0' : String.fromCharCode(b[156]!);
    const magic = b.toString('latin1', 257, 263);
    const isPosix = magic === 'ustar\0';
    const size = readNumber(b, 124, 12, 'size');
    switch (type) {
      case 'x':
      case 'g':
      case 'L':
        return this.startExtended(type === 'x' ? 'pax' : type === 'g' ? 'global' : 'longname', size);
      case '0':
      case '7':
      case 'S':
        break;
      default:
        throw new ArchiveInvalidError(
          `tar member ${JSON.stringify(rawName(b, isPosix))} is ${describeType(type)}; a bundle holds exactly one regular file`,
        );
    }
    const name = this.paxPath ?? this.longName ?? rawName(b, isPosix);
    checkMemberName(name);
    if (this.expectedName !== undefined && name !== this.expectedName) {
      throw new ArchiveInvalidError(
        `tar member ${quoteName(name)} is not named after the bundle (${quoteName(this.expectedName)}); bundlers name their one member after the bundle`,
      );
    }
    const mode = readNumber(b, 100, 8, 'mode');
    const mtime = readNumber(b, 136, 12, 'mtime');
    const stored = this.paxSize ?? size;
    this.paxPath = undefined;
    this.paxSize = undefined;
    this.longName = undefined;
    if (type === 'S') {
      const realSize = readNumber(b, 483, 12, 'real size');
      this.checkSize(name, realSize);
      this.current = { name, size: realSize, mode, mtime, sparse: true };
      this.dataLeft = stored;
      this.sparseMap = [];
      this.readSparseEntries(b, 386, 4);
      if (b[482] !== 0) {
        this.state = 'sparse-map';
        return;
      }
      this.startData();
      return;
    }
    this.checkSize(name, stored);
    this.current = { name, size: stored, mode, mtime, sparse: false };
    this.dataLeft = stored;
    this.startData();
  }

  private checkSize(name: string, size: number): void {
    if (size > this.maxSize) {
      throw new ArchiveInvalidError(`tar member ${JSON.stringify(name)} is ${size} bytes, over the ${this.maxSize}-byte limit`);
    }
  }

  private readSparseEntries(b: Buffer, at: number, count: number): void {
    for (let i = 0; i < count; i++) {
      const o = at + i * 24;
      if (b[o] === 0) return; // empty slot: end of the map in this block
      const offset = readNumber(b, o, 12, 'sparse offset');
      const length = readNumber(b, o + 12, 12, 'sparse length');
      const last = this.sparseMap[this.sparseMap.length - 1];
      const size = this.current!.size;
      if ((last && offset < last.offset + last.length) || offset + length > size) {
        throw new ArchiveInvalidError('sparse map of the tar member is out of order or beyond the file size');
      }
      if (this.sparseMap.length >= this.maxSparse) {
        throw new ArchiveInvalidError(`sparse map has more than ${this.maxSparse} entries`);
      }
      if (length > 0) this.sparseMap.push({ offset, length });
    }
  }

  private startData(): void {
    const member = this.current!;
    if (member.sparse) {
      const total = this.sparseMap.reduce((s, e) => s + e.length, 0);
      if (total !== this.dataLeft) {
        throw new ArchiveInvalidError(`sparse map covers ${total} bytes but the member stores ${this.dataLeft}`);
      }
      this.sparseIndex = 0;
      this.sparseUsed = 0;
    }
    this.filePos = 0;
    this.skipLeft = padding(this.dataLeft);
    if (this.dataLeft === 0) this.finishData();
    else this.state = 'data';
  }

  private emit(data: Buffer, out: TarSegment[]): void {
    if (!this.current!.sparse) {
      out.push({ offset: this.filePos, data });
      this.filePos += data.length;
      return;
    }
    let pos = 0;
    while (pos < data.length) {
      const entry = this.sparseMap[this.sparseIndex]!;
      const n = Math.min(entry.length - this.sparseUsed, data.length - pos);
      out.push({ offset: entry.offset + this.sparseUsed, data: data.subarray(pos, pos + n) });
      pos += n;
      this.sparseUsed += n;
      if (this.sparseUsed === entry.length) {
        this.sparseIndex++;
        this.sparseUsed = 0;
      }
    }
  }

  private finishData(): void {
    this.done = this.current;
    this.current = undefined;
    this.sparseMap = [];
    this.state = this.skipLeft > 0 ? 'skip' : 'trailer';
  }

  private startExtended(kind: 'pax' | 'global' | 'longname', size: number): void {
    if (size > this.maxExtended) {
      throw new ArchiveInvalidError(`extended tar header of ${size} bytes is over the ${this.maxExtended}-byte limit`);
    }
    this.extKind = kind;
    this.extBuf = Buffer.alloc(size);
    this.extFill = 0;
    this.extPad = padding(size);
    this.state = 'extended';
    if (size === 0 && this.extPad === 0) this.finishExtended();
  }

  private finishExtended(): void {
    const text = this.extBuf;
    this.extBuf = Buffer.alloc(0);
    this.state = 'header';
    if (this.extKind === 'longname') {
      const end = text.indexOf(0);
      this.longName = text.toString('utf8', 0, end < 0 ? text.length : end);
      return;
    }
    const records = parsePax(text);
    if (this.extKind === 'global') return; // global defaults: nothing in them changes how one file is read
    for (const [key, value] of records) {
      if (key === 'path') this.paxPath = value;
      else if (key === 'size') {
        if (!/^\d{1,16}$/.test(value)) throw new ArchiveInvalidError(`pax size ${JSON.stringify(value)} is not a number`);
        this.paxSize = Number(value);
      } else if (key.startsWith('GNU.sparse.')) {
        throw new ArchiveInvalidError('pax sparse members (GNU.sparse.*) are not supported; bundle the image without them');
      }
    }
  }
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function verifyChecksum(b: Buffer): void {
  const field = b.toString('latin1', 148, 156);
  const m = /^[ \0]*([0-7]{1,8})[ \0]*$/.exec(field);
  if (!m) throw new ArchiveInvalidError('not a tar stream (bad header checksum field)');
  const expected = parseInt(m[1]!, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const v = i >= 148 && i < 156 ? 0x20 : b[i]!;
    unsigned += v;
    signed += v > 127 ? v - 256 : v;
  }
  if (expected !== unsigned && expected !== signed) {
    throw new ArchiveInvalidError('tar header checksum mismatch (not a tar stream, or corrupt)');
  }
}

/** Octal (with optional spaces/NULs) or GNU base-256 numeric field. */
function readNumber(b: Buffer, offset: number, width: number, what: string): number {
  const first = b[offset]!;
  if (first & 0x80) {
    if (first !== 0x80) throw new ArchiveInvalidError(`tar ${what} field is negative`);
    let v = 0n;
    for (let i = offset + 1; i < offset + width; i++) v = (v << 8n) | BigInt(b[i]!);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ArchiveInvalidError(`tar ${what} field overflows`);
    return Number(v);
  }
  const text = b.toString('latin1', offset, offset + width);
  const m = /^[ \0]*([0-7]*)[ \0]*$/.exec(text);
  if (!m) throw new ArchiveInvalidError(`tar ${what} field ${JSON.stringify(text)} is not octal`);
  return m[1] ? parseInt(m[1], 8) : 0;
}

function rawName(b: Buffer, posix: boolean): string {
  const name = cString(b, 0, 100);
  if (posix) {
    const prefix = cString(b, 345, 155);
    if (prefix) return `${prefix}/${name}`;
  }
  return name;
}

function cString(b: Buffer, offset: number, width: number): string {
  const end = b.indexOf(0, offset);
  return b.toString('utf8', offset, end < 0 || end > offset + width ? offset + width : end);
}

/** The member's name must be one plain path component, not hidden, without control or format characters. */
export function checkMemberName(name: string): void {
  const problem = imageFileNameProblem(name);
  if (problem) throw new ArchiveInvalidError(`tar member name ${quoteName(name)} is not a plain file name: ${problem}`);
}

function describeType(type: string): string {
  switch (type) {
    case '1':
      return 'a hard link';
    case '2':
      return 'a symbolic link';
    case '3':
    case '4':
      return 'a device';
    case '5':
      return 'a directory';
    case '6':
      return 'a FIFO';
    default:
      return `of unsupported type ${JSON.stringify(type)}`;
  }
}

/** pax records: "LEN key=value\n", LEN counting the whole record. */
function parsePax(buf: Buffer): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let pos = 0;
  while (pos < buf.length) {
    if (buf[pos] === 0) break;
    const space = buf.indexOf(0x20, pos);
    if (space < 0 || space - pos > 8) throw new ArchiveInvalidError('malformed pax header');
    const len = Number(buf.toString('latin1', pos, space));
    if (!Number.isInteger(len) || len <= space - pos + 1 || pos + len > buf.length || buf[pos + len - 1] !== 0x0a) {
      throw new ArchiveInvalidError('malformed pax header');
    }
    const record = buf.toString('utf8', space + 1, pos + len - 1);
    const eq = record.indexOf('=');
    if (eq <= 0) throw new ArchiveInvalidError('malformed pax header');
    out.push([record.slice(0, eq), record.slice(eq + 1)]);
    pos += len;
  }
  return out;
}
