import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { ImageEntry } from './ext4-image.js';

/**
 * A root tree with every kind of entry a root filesystem has, and the entries bundle-vol must leave
 * out; and a reader of a tree into the same shape as `readImage`, to compare them entry by entry.
 * Paths are byte strings (latin1), relative, '' for the root.
 */

const NON_UTF8 = Buffer.from([0x64, 0x61, 0x74, 0x61, 0x2f, 0xff, 0xfe, 0x2d, 0x62, 0x79, 0x74, 0x65, 0x73]).toString('latin1'); // data/\xff\xfe-bytes

/** Excluded by default (or by the -e/-d the tests pass), relative paths. */
export const EXPECTED_EXCLUDED = [
  'proc/1',
  'sys/kernel',
  'dev/sda',
  'dev/pts',
  'tmp/junk',
  'run/lock',
  'mnt/data',
  'media/usb',
  '.dockerenv',
  'etc/ssl/private/site.key',
  'etc/ssh/ssh_host_ed25519_key',
  'etc/ssh/ssh_host_ed25519_key.pub',
  'home/alice/.ssh',
  'home/alice/.bash_history',
  'var/lib/cloud/instances',
  'var/log/cloud-init.log',
  'opt/secret',
  'var/sock',
];
/** Excluded by default, brought back by the tests with -i. */
export const BROUGHT_BACK = 'root/.bash_history';

const PEM_KEY = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----\n';
const PEM_CERT = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUTEST\n-----END CERTIFICATE-----\n';

function sh(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Builds the tree (as root: devices, capabilities, foreign owners). The socket lives until `close`. */
export async function makeEveryKindTree(root: string): Promise<{ socket: Server }> {
  const p = (rel: string): string => join(root, rel);
  const file = (rel: string, content: string | Buffer, mode = 0o644): void => {
    fs.mkdirSync(join(root, rel, '..'), { recursive: true });
    fs.writeFileSync(p(rel), content, { mode });
    fs.chmodSync(p(rel), mode);
  };
  const dir = (rel: string, mode = 0o755): void => {
    fs.mkdirSync(p(rel), { recursive: true });
    fs.chmodSync(p(rel), mode);
  };
  fs.mkdirSync(root, { recursive: true });
  file('etc/hostname', 'bundlefarm-test\n');
  file('etc/passwd', 'root:x:0:0::/root:/bin/sh\nalice:x:1234:1234::/home/alice:/bin/sh\n');
  file('etc/group', 'root:x:0:\nalice:x:1234:\nstaff:x:50:\n');
  file('etc/ssl/certs/ca.pem', PEM_CERT);
  file('etc/ssl/private/site.key', PEM_KEY, 0o600);
  file('etc/ssh/sshd_config', 'PermitRootLogin no\n');
  file('etc/ssh/ssh_host_ed25519_key', PEM_KEY, 0o600);
  file('etc/ssh/ssh_host_ed25519_key.pub', 'ssh-ed25519 AAAA test\n');
  fs.symlinkSync('/usr/share/zoneinfo/UTC', p('etc/localtime'));
  file('usr/lib/libfoo.so.1', Buffer.alloc(10000, 7), 0o755);
  fs.symlinkSync('libfoo.so.1', p('usr/lib/libfoo.so'));
  fs.symlinkSync('/very/long/target/' + 'x'.repeat(120), p('usr/lib/long-link'));
  file('usr/bin/tool', '#!/bin/sh\necho tool\n', 0o755);
  dir('usr/sbin');
  fs.linkSync(p('usr/bin/tool'), p('usr/bin/tool-again'));
  fs.linkSync(p('usr/bin/tool'), p('usr/sbin/tool3'));
  file('usr/bin/su-like', 'setuid\n', 0o4755);
  file('usr/bin/sg-like', 'setgid\n', 0o2755);
  file('usr/bin/ping-like', 'capability\n', 0o755);
  sh('setcap', ['cap_net_raw+ep', p('usr/bin/ping-like')]);
  dir('srv/shared', 0o2775);
  fs.chownSync(p('srv/shared'), 0, 50);
  dir('var/tmp', 0o1777);
  sh('mkfifo', ['-m', '0620', p('var/fifo')]);
  dir('var/lib/devices');
  sh('mknod', ['-m', '0640', p('var/lib/devices/null-like'), 'c', '1', '3']);
  sh('mknod', ['-m', '0660', p('var/lib/devices/loop-like'), 'b', '7', '0']);
  sh('mknod', ['-m', '0600', p('var/lib/devices/big-numbers'), 'c', '300', '70000']);
  file('var/lib/cloud/instances/i-123/user-data.txt', 'secret user data\n');
  file('var/lib/cloud/seed/nocloud/meta-data', 'instance-id: seed\n');
  file('var/log/cloud-init.log', 'log\n');
  file('var/log/syslog', 'kept\n');
  dir('home/big', 0o750);
  file('home/big/file', 'owned by a big uid\n', 0o640);
  fs.symlinkSync('file', p('home/big/link'));
  fs.lchownSync(p('home/big/link'), 70000, 70001);
  fs.chownSync(p('home/big/file'), 100000, 200000);
  fs.chownSync(p('home/big'), 100000, 200000);
  sh('setfattr', ['-n', 'user.comment', '-v', 'a comment', p('home/big/file')]);
  sh('setfattr', ['-n', 'user.binary', '-v', '0x00ff0a22', p('home/big/file')]);
  sh('setfacl', ['-m', 'u:1234:rw,g:50:r', p('home/big/file')]);
  dir('home/big/acl-dir');
  sh('setfacl', ['-d', '-m', 'u:1234:rwx', p('home/big/acl-dir')]);
  file('home/alice/.ssh/id_ed25519', PEM_KEY, 0o600);
  file('home/alice/.bash_history', 'history\n', 0o600);
  file('root/.bash_history', 'root history\n', 0o600);
  dir('data');
  sh('setfattr', ['-n', 'trusted.note', '-v', 'on a directory', p('data')]);
  sh('setfattr', ['-n', 'security.selinux', '-v', 'system_u:object_r:etc_t:s0', p('etc/hostname')]);
  // 1 GiB, three small islands of data
  const big = fs.openSync(p('data/big.sparse'), 'w');
  fs.ftruncateSync(big, 1024 ** 3);
  fs.writeSync(big, Buffer.alloc(4096, 1), 0, 4096, 0);
  fs.writeSync(big, Buffer.alloc(4096, 2), 0, 4096, 512 * 1024 ** 2);
  fs.writeSync(big, Buffer.alloc(4096, 3), 0, 4096, 1024 ** 3 - 4096);
  fs.closeSync(big);
  file('data/zero-middle', Buffer.concat([Buffer.alloc(8192, 9), Buffer.alloc(65536), Buffer.alloc(100, 8)]));
  file('data/empty', '');
  dir('data/emptydir');
  file('data/spaces and "quotes"', 'q\n');
  file('data/ünïcödé', 'u\n');
  fs.writeFileSync(Buffer.from(join(root, NON_UTF8), 'latin1'), 'bytes\n');
  file('data/-dash', 'd\n');
  file('data/future', 'after 2038\n');
  fs.utimesSync(p('data/future'), 2208988800, 2208988800.123456);
  file('data/past', 'before 1970\n');
  fs.utimesSync(p('data/past'), -86400, -86400);
  file('data/nsec', 'nanoseconds\n');
  fs.utimesSync(p('data/nsec'), 1700000000.5, 1700000000.25);
  // excluded
  file('proc/1/status', 'fake\n');
  file('sys/kernel/x', 'fake\n');
  dir('dev/pts');
  sh('mknod', [p('dev/sda'), 'b', '8', '0']);
  dir('tmp', 0o1777);
  file('tmp/junk', 'junk\n');
  file('run/lock/x', 'x\n');
  file('mnt/data/x', 'x\n');
  file('media/usb/x', 'x\n');
  file('.dockerenv', '');
  file('opt/secret/x', 'x\n');
  const socket = createServer();
  await new Promise<void>((resolve) => socket.listen(p('var/sock'), resolve));
  // the root directory: mode, owner and time mke2fs -d would not copy
  fs.chmodSync(root, 0o750);
  fs.chownSync(root, 5, 6);
  fs.utimesSync(root, 1000000000, 1000000000);
  return { socket };
}

export interface SourceEntry extends Omit<ImageEntry, 'inode' | 'links'> {
  ino: bigint;
}

/** The tree as `readImage` sees an image (lstat, readlink, getfattr, sha256). */
export function readSourceTree(root: string, skip: (rel: string) => boolean = () => false): Map<string, SourceEntry> {
  const out = new Map<string, SourceEntry>();
  const walk = (rel: string): void => {
    const abs = Buffer.from(rel === '' ? root : `${root}/${rel}`, 'latin1');
    const st = fs.lstatSync(abs, { bigint: true });
    const fmt = Number(st.mode & 0o170000n);
    const types: Record<number, ImageEntry['type']> = { 0o100000: 'file', 0o040000: 'dir', 0o120000: 'symlink', 0o020000: 'char', 0o060000: 'block', 0o010000: 'fifo', 0o140000: 'socket' };
    const type = types[fmt]!;
    const e: SourceEntry = {
      path: rel,
      type,
      mode: Number(st.mode & 0o7777n),
      uid: Number(st.uid),
      gid: Number(st.gid),
      size: type === 'file' ? Number(st.size) : 0,
      mtime: Number(st.mtimeNs / 1_000_000_000n) - (st.mtimeNs < 0n && st.mtimeNs % 1_000_000_000n !== 0n ? 1 : 0),
      mtimeNsec: Number(((st.mtimeNs % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n),
      blocks: Number(st.blocks),
      ino: st.ino,
      xattrs: new Map(),
    };
    if (type === 'char' || type === 'block') {
      const rdev = st.rdev;
      e.major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
      e.minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
    }
    if (type === 'symlink') e.target = fs.readlinkSync(abs, { encoding: 'buffer' }).toString('latin1');
    if (type === 'file') e.sha256 = createHash('sha256').update(fs.readFileSync(abs)).digest('hex');
    if (type !== 'socket') {
      const fd = fs.openSync(abs, 0o10000000 | fs.constants.O_NOFOLLOW);
      try {
        const text = execFileSync('getfattr', ['--absolute-names', '-d', '-m', '-', '-e', 'hex', `/proc/${process.pid}/fd/${fd}`], { encoding: 'latin1' });
        for (const line of text.split('\n')) {
          const m = /^([^#=][^=]*)=0x([0-9a-f]*)$/.exec(line);
          if (m) e.xattrs.set(m[1]!, m[2]!);
        }
      } finally {
        fs.closeSync(fd);
      }
    }
    out.set(rel, e);
    if (type === 'dir') {
      for (const name of fs.readdirSync(abs, { encoding: 'buffer' })) {
        const child = rel === '' ? name.toString('latin1') : `${rel}/${name.toString('latin1')}`;
        if (!skip(child)) walk(child);
      }
    }
  };
  walk('');
  return out;
}

/**
 * Differences between a source tree and an image, entry by entry: type, mode, owner, mtime (and
 * nanoseconds), size, content, link target, xattrs, device numbers, hard-link identity, sparseness.
 */
export function compareTrees(
  source: Map<string, SourceEntry>,
  image: Map<string, ImageEntry>,
  options: { imageOnly?: readonly string[]; owner?: { uid: number; gid: number } } = {},
): string[] {
  const diffs: string[] = [];
  const show = (p: string): string => '/' + Buffer.from(p, 'latin1').toString('utf8');
  const inodeOf = new Map<bigint, number>();
  for (const [p, s] of source) {
    const i = image.get(p);
    if (!i) {
      diffs.push(`${show(p)}: missing from the image`);
      continue;
    }
    const want = {
      type: s.type,
      mode: s.mode,
      uid: options.owner?.uid ?? s.uid,
      gid: options.owner?.gid ?? s.gid,
      mtime: s.mtime,
      mtimeNsec: s.mtimeNsec,
      size: s.type === 'file' ? s.size : undefined,
      target: s.target,
      major: s.major,
      minor: s.minor,
      sha256: s.sha256,
    };
    const got = { type: i.type, mode: i.mode, uid: i.uid, gid: i.gid, mtime: i.mtime, mtimeNsec: i.mtimeNsec, size: i.type === 'file' ? i.size : undefined, target: i.target, major: i.major, minor: i.minor, sha256: i.sha256 };
    for (const k of Object.keys(want) as Array<keyof typeof want>) {
      if (want[k] !== got[k]) diffs.push(`${show(p)}: ${k} ${JSON.stringify(got[k])}, source ${JSON.stringify(want[k])}`);
    }
    const sx = [...s.xattrs].sort().map(([k, v]) => `${k}=${normalizeXattr(k, v)}`).join(' ');
    const ix = [...i.xattrs].sort().map(([k, v]) => `${k}=${normalizeXattr(k, v)}`).join(' ');
    if (sx !== ix) diffs.push(`${show(p)}: xattrs {${ix}}, source {${sx}}`);
    if (s.type === 'file') {
      const first = inodeOf.get(s.ino);
      if (first === undefined) inodeOf.set(s.ino, i.inode);
      else if (first !== i.inode) diffs.push(`${show(p)}: not the same inode as its hard links`);
      // sparse stays sparse: no more than the source allocates, plus a block of extent tree
      if (i.blocks > s.blocks + 8) diffs.push(`${show(p)}: ${i.blocks * 512} bytes allocated, source ${s.blocks * 512}`);
    }
  }
  const allowed = new Set(options.imageOnly ?? []);
  for (const p of image.keys()) if (!source.has(p) && !allowed.has(p)) diffs.push(`${show(p)}: in the image, not in the source`);
  // hard-link identity the other way: distinct source inodes must not share one
  const seen = new Map<number, bigint>();
  for (const [p, s] of source) {
    const i = image.get(p);
    if (!i || s.type !== 'file') continue;
    const other = seen.get(i.inode);
    if (other !== undefined && other !== s.ino) diffs.push(`${show(p)}: shares an inode with a different source file`);
    seen.set(i.inode, s.ino);
  }
  return diffs;
}

/**
 * ACL entries without a qualifier (owner, owning group, mask, other) carry an unused id: the kernel
 * reports -1, e2fsprogs (which does not store it) 0. Both mean the same ACL.
 */
function normalizeXattr(name: string, hex: string): string {
  if (name !== 'system.posix_acl_access' && name !== 'system.posix_acl_default') return hex;
  const b = Buffer.from(hex, 'hex');
  for (let at = 4; at + 8 <= b.length; at += 8) {
    const tag = b.readUInt16LE(at);
    if (tag === 0x01 || tag === 0x04 || tag === 0x10 || tag === 0x20) b.writeUInt32LE(0, at + 4);
  }
  return b.toString('hex');
}
