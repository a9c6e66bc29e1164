/*
 * A streaming reader of whole-filesystem tar archives, as `tar --numeric-owner --xattrs --acls`,
 * `docker export`, mkosi, bsdtar and Go's archive/tar write them: ustar, GNU (long names, base-256
 * numbers, old sparse members) and pax (path, linkpath, size, uid, gid, mtime with fraction, global
 * headers, SCHILY.xattr.*, LIBARCHIVE.xattr.*, SCHILY.acl.*, RHT.security.selinux, GNU sparse 0.0, 0.1
 * and 1.0). xattr values are kept as raw bytes (JavaScript tar libraries decode pax values as UTF-8,
 * which breaks binary capabilities and ACLs, and none reads GNU sparse members — hence this reader).
 *
 * Input is hostile: names are normalized and may not climb out of the root (`..`), extended headers and
 * sparse maps are bounded, checksums are verified, and an archive must end with its end-of-archive
 * blocks (a truncated download is refused, not turned into a partial root filesystem).
 */
import type { ByteReader } from './byte-reader.js';
import { TarballInvalidError } from './rootfs-errors.js';
import type { Timestamp } from './rootfs-entry.js';

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TarSegment {
  /** Offset of `length` bytes of data in the extracted file. */
  offset: number;
  length: number;
}

export interface TarEntry {
  /** Normalized path without leading slash ('' for the root). Byte string. */
  path: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  mtime: Timestamp;
  /** Size of the extracted file. */
  size: number;
  target?: string;
  major?: number;
  minor?: number;
  xattrs: Array<[string, Buffer]>;
  /** POSIX ACLs in text form (SCHILY.acl.*), when no binary system.posix_acl_* xattr came with them. */
  aclText: { access?: string; default?: string };
  /** Where the archived data goes in the file (one segment from 0 for a plain member). */
  segments: TarSegment[];
}

const BLOCK = 512;
const MAX_EXTENDED = 16 * 1024 * 1024;
const MAX_SPARSE = 1 << 20;
const MAX_PATH = 4096;

export interface TarChunk {
  /** Offset in the extracted file. */
  offset: number;
  data: Buffer;
}

/**
 * Entries of the archive in order. After each entry is yielded, the caller may read its data with
 * `data()` (file offsets and bytes); what it leaves unread is skipped.
 */
export async function* readTarEntries(reader: ByteReader): AsyncGenerator<{ entry: TarEntry; data: () => AsyncGenerator<TarChunk> }> {
  const global = new Map<string, Buffer>();
  let pax = new Map<string, Buffer>();
  let paxOrder: Array<[string, Buffer]> = [];
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const header = await reader.read(BLOCK);
    if (header.length === 0) throw new TarballInvalidError('the archive ends without its end-of-archive blocks (truncated?)');
    if (header.length < BLOCK) throw new TarballInvalidError('the archive is truncated inside a header');
    if (isZero(header)) return;
    verifyChecksum(header);
    const flag = String.fromCharCode(header[156]!);
    const size = num(header, 124, 12, 'size');
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > MAX_EXTENDED) throw new TarballInvalidError(`an extended header of ${size} bytes is larger than ${MAX_EXTENDED}`);
      const body = await readExact(reader, size, padding(size));
      if (flag === 'L') longName = cString(body, 0, body.length);
      else if (flag === 'K') longLink = cString(body, 0, body.length);
      else {
        const records = parsePax(body);
        if (flag === 'g') for (const [k, v] of records) global.set(k, v);
        else {
          for (const [k, v] of records) pax.set(k, v);
          paxOrder = paxOrder.concat(records);
        }
      }
      continue;
    }
    const attrs = new Map([...global, ...pax]);
    const entry = buildEntry(header, flag, size, attrs, paxOrder, longName, longLink);
    pax = new Map();
    paxOrder = [];
    longName = longLink = undefined;
    if (flag === 'V' || flag === 'M' || flag === 'N') {
      if (flag !== 'V') throw new TarballInvalidError(`member type ${flag} (multi-volume or old long names) is not supported`);
      await skipExact(reader, size + padding(size));
      continue;
    }
    // bytes of data that follow the header (pax `size` overrides the header's); only files keep theirs
    const archived = paxNumber(attrs, 'size') ?? size;
    // old GNU sparse: the map is in the header and extension blocks
    if (flag === 'S') entry.segments = await oldGnuSparse(reader, header, entry);
    const sparse1 = attrs.get('GNU.sparse.major')?.toString('latin1') === '1';
    let mapBytes = 0;
    if (sparse1 && entry.type === 'file') {
      const parsed = await pax1Map(reader);
      entry.segments = parsed.segments;
      mapBytes = parsed.bytes;
    }
    checkSegments(entry, archived - mapBytes);
    let left = archived - mapBytes;
    const segments = entry.segments;
    const data = async function* (): AsyncGenerator<TarChunk> {
      for (const seg of segments) {
        let done = 0;
        while (done < seg.length) {
          const b = await reader.readSome(Math.min(seg.length - done, 4 * 1024 * 1024));
          if (b.length === 0) throw new TarballInvalidError(`the archive is truncated inside ${show(entry.path)}`);
          left -= b.length;
          yield { offset: seg.offset + done, data: b };
          done += b.length;
        }
      }
    };
    yield { entry, data };
    if (left > 0) await skipExact(reader, left);
    await skipExact(reader, padding(archived));
  }
}

function show(path: string): string {
  return '/' + Buffer.from(path, 'latin1').toString('utf8');
}

function buildEntry(
  h: Buffer,
  flag: string,
  size: number,
  attrs: Map<string, Buffer>,
  paxOrder: Array<[string, Buffer]>,
  longName: string | undefined,
  longLink: string | undefined,
): TarEntry {
  const magic = h.toString('latin1', 257, 263);
  const ustar = magic === 'ustar\0';
  const text = (k: string): string | undefined => attrs.get(k)?.toString('latin1');
  let name = cString(h, 0, 100);
  if (ustar) {
    const prefix = cString(h, 345, 155);
    if (prefix) name = `${prefix}/${name}`;
  }
  if (longName !== undefined) name = longName;
  const sparseName = text('GNU.sparse.name');
  if (text('path') !== undefined) name = text('path')!;
  if (sparseName !== undefined) name = sparseName;
  let link = cString(h, 157, 100);
  if (longLink !== undefined) link = longLink;
  if (text('linkpath') !== undefined) link = text('linkpath')!;
  let type: TarEntryType;
  switch (flag) {
    case '0':
    case '\0':
    case '7':
    case 'S':
      type = name.endsWith('/') && flag === '\0' ? 'dir' : 'file';
      break;
    case '1':
      type = 'hardlink';
      break;
    case '2':
      type = 'symlink';
      break;
    case '3':
      type = 'char';
      break;
    case '4':
      type = 'block';
      break;
    case '5':
    case 'D':
      type = 'dir';
      break;
    case '6':
      type = 'fifo';
      break;
    case 'V':
    case 'M':
    case 'N':
      type = 'file';
      break;
    default:
      throw new TarballInvalidError(`${show(normalize(name))}: member type ${JSON.stringify(flag)} is not supported`);
  }
  const path = normalize(name);
  const numAttr = (k: string, fallback: number): number => paxNumber(attrs, k) ?? fallback;
  const entry: TarEntry = {
    path,
    type,
    mode: num(h, 100, 8, 'mode') & 0o7777,
    uid: numAttr('uid', num(h, 108, 8, 'uid')),
    gid: numAttr('gid', num(h, 116, 8, 'gid')),
    mtime: paxTime(text('mtime')) ?? { sec: num(h, 136, 12, 'mtime', true), nsec: 0 },
    size: 0,
    xattrs: [],
    aclText: {},
    segments: [],
  };
  if (entry.uid > 0xffffffff || entry.gid > 0xffffffff) throw new TarballInvalidError(`${show(path)}: uid/gid beyond 32 bits`);
  if (type === 'symlink' || type === 'hardlink') {
    if (link === '') throw new TarballInvalidError(`${show(path)}: link without a target`);
    entry.target = type === 'hardlink' ? normalize(link) : link;
    if (type === 'hardlink' && entry.target === '') throw new TarballInvalidError(`${show(path)}: hard link to the root directory`);
  }
  if (type === 'char' || type === 'block') {
    entry.major = num(h, 329, 8, 'devmajor');
    entry.minor = num(h, 337, 8, 'devminor');
  }
  if (type === 'file') {
    const dataSize = numAttr('size', size);
    const real = paxNumber(attrs, 'GNU.sparse.realsize') ?? paxNumber(attrs, 'GNU.sparse.size');
    entry.size = flag === 'S' ? num(h, 483, 12, 'realsize') : (real ?? dataSize);
    entry.segments = [{ offset: 0, length: dataSize }];
    // pax sparse 0.0 (repeated offset/numbytes) and 0.1 (one map)
    const map01 = text('GNU.sparse.map');
    if (map01 !== undefined) entry.segments = pairs(map01.split(',').map((s) => sparseNum(s)));
    else if (attrs.has('GNU.sparse.offset')) {
      const flat: number[] = [];
      for (const [k, v] of paxOrder) if (k === 'GNU.sparse.offset' || k === 'GNU.sparse.numbytes') flat.push(sparseNum(v.toString('latin1')));
      entry.segments = pairs(flat);
    }
  }
  for (const [k, v] of attrs) {
    if (k.startsWith('SCHILY.xattr.')) entry.xattrs.push([k.slice(13), v]);
    else if (k.startsWith('LIBARCHIVE.xattr.')) {
      const xname = decodeURIComponent(k.slice(17));
      if (!entry.xattrs.some(([n]) => n === xname)) entry.xattrs.push([xname, Buffer.from(v.toString('latin1'), 'base64')]);
    } else if (k === 'RHT.security.selinux') {
      if (!entry.xattrs.some(([n]) => n === 'security.selinux')) entry.xattrs.push(['security.selinux', v]);
    } else if (k === 'SCHILY.acl.access') entry.aclText.access = v.toString('latin1');
    else if (k === 'SCHILY.acl.default') entry.aclText.default = v.toString('latin1');
  }
  if (entry.xattrs.some(([n]) => n === 'system.posix_acl_access')) delete entry.aclText.access;
  if (entry.xattrs.some(([n]) => n === 'system.posix_acl_default')) delete entry.aclText.default;
  return entry;
}

/** Normalized, root-relative path; `..` that would leave the root is refused. */
export function normalize(name: string): string {
  if (name.length > MAX_PATH) throw new TarballInvalidError(`a name of ${name.length} bytes is longer than ${MAX_PATH}`);
  if (name.includes('\0')) throw new TarballInvalidError('a name contains a NUL byte');
  const parts: string[] = [];
  for (const seg of name.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') throw new TarballInvalidError(`${JSON.stringify(Buffer.from(name, 'latin1').toString('utf8'))} climbs out of the root with ..`);
    parts.push(seg);
  }
  return parts.join('/');
}

function pairs(flat: number[]): TarSegment[] {
  if (flat.length % 2 !== 0) throw new TarballInvalidError('a sparse map has an odd number of numbers');
  if (flat.length / 2 > MAX_SPARSE) throw new TarballInvalidError('a sparse map is too long');
  const out: TarSegment[] = [];
  for (let i = 0; i < flat.length; i += 2) out.push({ offset: flat[i]!, length: flat[i + 1]! });
  return out;
}

function sparseNum(s: string): number {
  if (!/^\d+$/.test(s.trim())) throw new TarballInvalidError(`sparse map value ${JSON.stringify(s)} is not a number`);
  return Number(s.trim());
}

function checkSegments(entry: TarEntry, archived: number): void {
  if (entry.type !== 'file') return;
  let end = 0;
  let total = 0;
  for (const s of entry.segments) {
    if (!Number.isSafeInteger(s.offset) || !Number.isSafeInteger(s.length) || s.offset < end) {
      throw new TarballInvalidError(`${show(entry.path)}: sparse map out of order`);
    }
    end = s.offset + s.length;
    total += s.length;
  }
  if (end > entry.size) throw new TarballInvalidError(`${show(entry.path)}: data beyond the file's size`);
  if (total !== archived) throw new TarballInvalidError(`${show(entry.path)}: sparse map holds ${total} bytes, the member ${archived}`);
}

async function oldGnuSparse(reader: ByteReader, h: Buffer, entry: TarEntry): Promise<TarSegment[]> {
  const flat: number[] = [];
  const readMap = (b: Buffer, at: number, count: number): void => {
    for (let i = 0; i < count; i++) {
      const o = at + i * 24;
      if (b[o] === 0) break;
      flat.push(num(b, o, 12, 'sparse offset'), num(b, o + 12, 12, 'sparse length'));
    }
  };
  readMap(h, 386, 4);
  let extended = h[482] !== 0;
  while (extended) {
    const ext = await reader.read(BLOCK);
    if (ext.length < BLOCK) throw new TarballInvalidError(`the archive is truncated inside ${show(entry.path)}`);
    readMap(ext, 0, 21);
    extended = ext[504] !== 0;
    if (flat.length / 2 > MAX_SPARSE) throw new TarballInvalidError('a sparse map is too long');
  }
  return pairs(flat);
}

/** GNU sparse 1.0: the map is at the start of the data, decimal numbers on lines, padded to a block. */
async function pax1Map(reader: ByteReader): Promise<{ segments: TarSegment[]; bytes: number }> {
  let text = '';
  let bytes = 0;
  const numbers: number[] = [];
  let count = -1;
  while (count < 0 || numbers.length < count * 2) {
    const block = await reader.read(BLOCK);
    if (block.length < BLOCK) throw new TarballInvalidError('the archive is truncated inside a sparse map');
    bytes += BLOCK;
    text += block.toString('latin1');
    const lines = text.split('\n');
    text = lines.pop()!;
    for (const l of lines) {
      if (count < 0) {
        count = sparseNum(l);
        if (count > MAX_SPARSE) throw new TarballInvalidError('a sparse map is too long');
      } else if (numbers.length < count * 2) numbers.push(sparseNum(l));
    }
    if (bytes > MAX_EXTENDED) throw new TarballInvalidError('a sparse map is too long');
  }
  return { segments: pairs(numbers), bytes };
}

function paxNumber(attrs: Map<string, Buffer>, key: string): number | undefined {
  const v = attrs.get(key)?.toString('latin1');
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new TarballInvalidError(`pax ${key}=${JSON.stringify(v)} is not a number`);
  return Number(v);
}

function paxTime(v: string | undefined): Timestamp | undefined {
  if (v === undefined) return undefined;
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(v);
  if (!m) throw new TarballInvalidError(`pax mtime=${JSON.stringify(v)} is not a time`);
  let sec = Number(m[2]);
  let nsec = Number((m[3] ?? '').slice(0, 9).padEnd(9, '0'));
  if (m[1] === '-') {
    sec = -sec;
    if (nsec > 0) {
      sec -= 1;
      nsec = 1e9 - nsec;
    }
  }
  return { sec, nsec };
}

function parsePax(buf: Buffer): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  let at = 0;
  while (at < buf.length) {
    if (buf[at] === 0) break;
    const space = buf.indexOf(0x20, at);
    if (space < 0) throw new TarballInvalidError('a pax record has no length');
    const lenText = buf.toString('latin1', at, space);
    if (!/^\d+$/.test(lenText)) throw new TarballInvalidError('a pax record length is not a number');
    const len = Number(lenText);
    const end = at + len;
    if (len < space - at + 3 || end > buf.length || buf[end - 1] !== 0x0a) throw new TarballInvalidError('a pax record is malformed');
    const eq = buf.indexOf(0x3d, space + 1);
    if (eq < 0 || eq >= end) throw new TarballInvalidError('a pax record has no =');
    out.push([buf.toString('latin1', space + 1, eq), Buffer.from(buf.subarray(eq + 1, end - 1))]);
    at = end;
  }
  return out;
}

function num(b: Buffer, offset: number, width: number, what: string, signed = false): number {
  const first = b[offset]!;
  if (first & 0x80) {
    // GNU base-256, two's complement when the sign bit (0x40) is set
    const negative = (first & 0x40) !== 0;
    if (negative && !signed) throw new TarballInvalidError(`tar ${what} field is negative`);
    let v = BigInt(first & 0x3f);
    for (let i = 1; i < width; i++) v = (v << 8n) | BigInt(b[offset + i]!);
    if (negative) v -= 1n << BigInt(width * 8 - 2);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) throw new TarballInvalidError(`tar ${what} field is too large`);
    return Number(v);
  }
  const s = b.toString('latin1', offset, offset + width).replace(/[\0 ]+$/, '').replace(/^[ ]+/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarballInvalidError(`tar ${what} field ${JSON.stringify(s)} is not octal`);
  return parseInt(s, 8);
}

function cString(b: Buffer, offset: number, width: number): string {
  const end = b.indexOf(0, offset);
  return b.toString('latin1', offset, end < 0 || end > offset + width ? offset + width : end);
}

function verifyChecksum(h: Buffer): void {
  const stored = num(h, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const v = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += v;
    signed += v > 127 ? v - 256 : v;
  }
  if (stored !== unsigned && stored !== signed) throw new TarballInvalidError('a header checksum is wrong (not a tar archive, or corrupt)');
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

async function readExact(reader: ByteReader, size: number, pad: number): Promise<Buffer> {
  const body = await reader.read(size);
  if (body.length < size) throw new TarballInvalidError('the archive is truncated inside an extended header');
  const copy = Buffer.from(body);
  await skipExact(reader, pad);
  return copy;
}

async function skipExact(reader: ByteReader, n: number): Promise<void> {
  if (n <= 0) return;
  const got = await reader.skip(n);
  if (got < n) throw new TarballInvalidError('the archive is truncated');
}
