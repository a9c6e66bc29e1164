import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { run } from './run.js';

/**
 * Reads a filesystem image back without mounting it, with debugfs only (`ls -p`, `stat`, `ea_list`,
 * `ea_get -x`, `cat`) — not `rdump`, which drops devices, xattrs, owners of symlinks and holes.
 * Paths are byte strings (latin1), without a leading slash; '' is the root.
 */
export interface ImageEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  mtimeNsec: number;
  inode: number;
  links: number;
  /** 512-byte sectors allocated. */
  blocks: number;
  major?: number;
  minor?: number;
  target?: string;
  xattrs: Map<string, string>;
  sha256?: string;
}

const TYPES: Record<number, ImageEntry['type']> = { 0o100000: 'file', 0o040000: 'dir', 0o120000: 'symlink', 0o020000: 'char', 0o060000: 'block', 0o010000: 'fifo', 0o140000: 'socket' };

function q(p: string): string {
  return '"' + ('/' + p).replaceAll('"', '""') + '"';
}

async function debugfsBatch(image: string, commands: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const child = spawn('sh', ['-c', 'exec stdbuf -oL debugfs -f - "$0" 2>&1', image], { stdio: ['pipe', 'pipe', 'ignore'] });
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.on('error', reject);
    child.on('close', () => resolve());
    child.stdin.end(Buffer.from(commands.join('\n') + '\n', 'latin1'));
  });
  let current: string[] | undefined;
  const pending = [...commands];
  for (const line of Buffer.concat(chunks).toString('latin1').split('\n')) {
    if (pending.length > 0 && line === `debugfs: ${pending[0]}`) {
      current = [];
      out.set(pending.shift()!, current);
    } else current?.push(line);
  }
  return out;
}

export async function readImage(image: string, options: { hash?: boolean } = {}): Promise<Map<string, ImageEntry>> {
  // 1. the names, directory by directory
  const paths: string[] = [''];
  const dirs = [''];
  while (dirs.length > 0) {
    const batch = dirs.splice(0);
    const res = await debugfsBatch(image, batch.map((d) => `ls -p ${q(d)}`));
    for (const d of batch) {
      for (const line of res.get(`ls -p ${q(d)}`) ?? []) {
        const m = /^\/(\d+)\/(\d+)\/(\d+)\/(\d+)\/([^/]*)\/(\d*)\/$/.exec(line);
        if (!m || m[1] === '0' || m[5] === '' || m[5] === '.' || m[5] === '..') continue;
        const p = d === '' ? m[5]! : `${d}/${m[5]}`;
        paths.push(p);
        if ((parseInt(m[2]!, 8) & 0o170000) === 0o040000) dirs.push(p);
      }
    }
  }
  // 2. inodes and xattr names
  const res = await debugfsBatch(image, paths.flatMap((p) => [`stat ${q(p)}`, `ea_list ${q(p)}`]));
  const entries = new Map<string, ImageEntry>();
  const eaGets: string[] = [];
  for (const p of paths) {
    const st = (res.get(`stat ${q(p)}`) ?? []).join('\n');
    const num = (re: RegExp): number => {
      const m = re.exec(st);
      if (!m) throw new Error(`debugfs stat /${p}: no ${re} in ${st}`);
      return Number(m[1]);
    };
    const modeM = /Mode:\s+(\d+)/.exec(st);
    const typeM = /Type: (\w+)/.exec(st);
    const mtime = /^ mtime: 0x([0-9a-f]+)(?::([0-9a-f]+))?/m.exec(st);
    if (!modeM || !typeM || !mtime) throw new Error(`debugfs stat /${p}: ${st}`);
    const lo = parseInt(mtime[1]!, 16) | 0;
    const extra = mtime[2] ? parseInt(mtime[2], 16) : 0;
    const typeName: Record<string, ImageEntry['type']> = { regular: 'file', directory: 'dir', symlink: 'symlink', character: 'char', block: 'block', FIFO: 'fifo', socket: 'socket' };
    const e: ImageEntry = {
      path: p,
      type: typeName[typeM[1]!] ?? TYPES[parseInt(modeM[1]!, 8) & 0o170000] ?? 'file',
      mode: parseInt(modeM[1]!, 8) & 0o7777,
      uid: num(/User:\s+(-?\d+)/) >>> 0,
      gid: num(/Group:\s+(-?\d+)/) >>> 0,
      size: num(/Size: (\d+)/),
      mtime: lo + (extra & 3) * 2 ** 32,
      mtimeNsec: extra >>> 2,
      inode: num(/Inode: (\d+)/),
      links: num(/Links: (\d+)/),
      blocks: num(/Blockcount: (\d+)/),
      xattrs: new Map(),
    };
    const dev = /Device major\/minor number: ([0-9a-f]+):([0-9a-f]+)/.exec(st);
    if (dev) {
      e.major = parseInt(dev[1]!, 10);
      e.minor = parseInt(dev[2]!, 10);
    }
    const fast = /Fast link dest: "(.*)"$/m.exec(st);
    if (fast) e.target = fast[1];
    entries.set(p, e);
    for (const line of res.get(`ea_list ${q(p)}`) ?? []) {
      const m = /^\s+(\S+) \(\d+\)/.exec(line);
      if (m) {
        eaGets.push(`ea_get -x ${q(p)} ${m[1]}`);
        e.xattrs.set(m[1]!, '');
      }
    }
  }
  // 3. xattr values (in the kernel's format: ea_get converts ACLs back)
  if (eaGets.length > 0) {
    const vals = await debugfsBatch(image, eaGets);
    for (const cmd of eaGets) {
      const m = /^ea_get -x "\/(.*)" (\S+)$/.exec(cmd)!;
      const p = m[1]!.replaceAll('""', '"');
      const text = (vals.get(cmd) ?? []).join(' ');
      const eq = text.indexOf(' = ');
      entries.get(p)!.xattrs.set(m[2]!, text.slice(eq + 3).replace(/\s+/g, '').toLowerCase());
    }
  }
  // 4. contents and slow symlink targets
  for (const e of entries.values()) {
    if (e.type === 'symlink' && e.target === undefined) e.target = (await cat(image, e.path)).data!.toString('latin1');
    if (e.type === 'file' && options.hash !== false) e.sha256 = (await cat(image, e.path, true)).hash;
  }
  return entries;
}

/** `cat` through stdin (names are bytes; argv would re-encode them as UTF-8); stdout = echo line + data. */
async function cat(image: string, path: string, hashOnly = false): Promise<{ data?: Buffer; hash: string }> {
  const h = createHash('sha256');
  const parts: Buffer[] = [];
  const command = `cat ${q(path)}`;
  let skip = Buffer.byteLength(`debugfs: ${command}\n`, 'latin1');
  await new Promise<void>((resolve, reject) => {
    const child = spawn('debugfs', ['-f', '-', image], { stdio: ['pipe', 'pipe', 'ignore'] });
    child.stdout.on('data', (d: Buffer) => {
      if (skip > 0) {
        const k = Math.min(skip, d.length);
        skip -= k;
        d = d.subarray(k);
      }
      h.update(d);
      if (!hashOnly) parts.push(d);
    });
    child.on('error', reject);
    child.on('close', () => resolve());
    child.stdin.end(Buffer.from(command + '\n', 'latin1'));
  });
  return { hash: h.digest('hex'), ...(hashOnly ? {} : { data: Buffer.concat(parts) }) };
}

/** e2fsck -fn; returns its output when the filesystem is not clean. */
export async function fsckClean(image: string): Promise<{ clean: boolean; output: string }> {
  const r = await run('e2fsck', ['-fn', image]);
  return { clean: r.code === 0, output: r.stdout + r.stderr };
}
