/*
 * Writes root filesystem entries into an ext4 image through debugfs, the way `mke2fs -d` does it (the
 * same libext2fs calls: write, mkdir, symlink, mknod, link), plus what `mke2fs -d` gets wrong or cannot
 * take from a tarball: owner, mode and mtime of every entry (including the root directory and times past
 * 2038), xattrs/ACLs/capabilities from any source, and hard-link counts.
 *
 * Entries may come in any order (tar does not promise parents first): missing parent directories are
 * created (0755 root:root), an entry given twice replaces the first (as tar extraction does).
 * Directory mtimes are set at the end, after their contents are in place.
 */
import type { DebugfsSession } from './debugfs-session.js';
import { EntryUnsupportedError, TarballInvalidError, displayPath } from './rootfs-errors.js';
import { TYPE_BITS, type RootfsEntry, type Timestamp } from './rootfs-entry.js';

/** Files whose content debugfs has not copied yet, at most (each holds a descriptor or staged bytes). */
const MAX_OUTSTANDING = 512;

type Kind = 'dir' | 'nondir';

export interface PopulateStats {
  entries: number;
  files: number;
  fileBytes: number;
}

export class Ext4Populator {
  private readonly known = new Map<string, Kind>([
    ['', 'dir'],
    ['lost+found', 'dir'],
  ]);
  private readonly dirTimes = new Map<string, Timestamp>();
  /** Hard-link targets → number of names. */
  private readonly linkCounts = new Map<string, number>();
  /** Every name of a hard-linked inode → its first name. */
  private readonly linkRoot = new Map<string, string>();
  private cwd = '';
  readonly stats: PopulateStats = { entries: 0, files: 0, fileBytes: 0 };

  constructor(private readonly session: DebugfsSession) {}

  async add(entry: RootfsEntry): Promise<void> {
    const path = entry.path;
    if (path.includes('\n')) {
      await entry.content?.release();
      throw new EntryUnsupportedError(path, 'names with a newline cannot be written by debugfs');
    }
    if (entry.target?.includes('\n')) {
      await entry.content?.release();
      throw new EntryUnsupportedError(path, 'link targets with a newline cannot be written by debugfs');
    }
    this.stats.entries++;
    if (path === '') {
      await this.applyMetadata('<2>', '/', entry, false);
      this.dirTimes.set('', entry.mtime);
      return;
    }
    const slash = path.lastIndexOf('/');
    const parent = slash < 0 ? '' : path.slice(0, slash);
    const name = slash < 0 ? path : path.slice(slash + 1);
    await this.ensureDir(parent, entry.mtime);
    const existing = this.known.get(path);
    if (existing === 'dir' && entry.type === 'dir') {
      await this.applyMetadata(abs(path), path, entry, false);
      this.dirTimes.set(path, entry.mtime);
      return;
    }
    if (existing === 'dir') {
      await entry.content?.release();
      throw new TarballInvalidError(`${displayPath(path)} is a directory and again a ${entry.type}`);
    }
    await this.cd(parent);
    const q = quote(name);
    if (existing === 'nondir') {
      // a later entry replaces an earlier one, as tar extraction does
      await this.session.send(`rm ${q}`, displayPath(path));
      if (this.linkRoot.has(path) || this.linkCounts.has(path)) {
        throw new TarballInvalidError(`${displayPath(path)} is a hard link and is given again`);
      }
    }
    const what = displayPath(path);
    switch (entry.type) {
      case 'dir':
        await this.session.send(`mkdir ${q}`, what);
        this.known.set(path, 'dir');
        this.dirTimes.set(path, entry.mtime);
        await this.applyMetadata(q, path, entry, true);
        return;
      case 'file': {
        const content = entry.content;
        if (!content) throw new EntryUnsupportedError(path, 'regular file without content');
        await this.session.waitBelow(MAX_OUTSTANDING);
        await this.session.send(`write ${quote(content.path)} ${q}`, what, 'allocates', () => content.release());
        this.stats.files++;
        this.stats.fileBytes += entry.size;
        break;
      }
      case 'symlink':
        await this.session.send(`symlink ${q} ${quote(entry.target ?? '')}`, what);
        break;
      case 'char':
      case 'block': {
        const major = entry.major ?? 0;
        const minor = entry.minor ?? 0;
        const kind = entry.type === 'char' ? 'c' : 'b';
        if (major <= 0xffff && minor <= 0xffff) {
          await this.session.send(`mknod ${q} ${kind} ${major} ${minor}`, what, 'allocates');
        } else {
          // debugfs takes at most 65535 for each; Linux has 12-bit majors and 20-bit minors, which
          // ext4 keeps in i_block[1] in the kernel's "new" encoding
          await this.session.send(`mknod ${q} ${kind} 0 0`, what, 'allocates');
          const encoded = ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
          await this.session.send(`sif ${q} block[1] ${encoded}`, what);
        }
        break;
      }
      case 'fifo':
        await this.session.send(`mknod ${q} p`, what, 'allocates');
        break;
      case 'hardlink': {
        const target = entry.target ?? '';
        if (this.known.get(target) !== 'nondir') {
          throw new TarballInvalidError(`hard link ${what} points to ${displayPath(target)}, which is not an earlier file`);
        }
        const first = this.linkRoot.get(target) ?? target;
        await this.session.send(`ln ${abs(first)} ${q}`, what);
        this.linkRoot.set(path, first);
        this.linkCounts.set(first, (this.linkCounts.get(first) ?? 1) + 1);
        this.known.set(path, 'nondir');
        return;
      }
    }
    this.known.set(path, 'nondir');
    await this.applyMetadata(q, path, entry, true);
  }

  /** Hard-link counts and directory times; call once after the last entry. */
  async finish(): Promise<void> {
    for (const [target, count] of this.linkCounts) {
      await this.session.send(`sif ${abs(target)} links_count ${count}`, displayPath(target));
    }
    for (const [path, time] of this.dirTimes) {
      await this.setTime(path === '' ? '<2>' : abs(path), displayPath(path), time);
    }
  }

  /** Sets one xattr of an entry already written (e.g. an ACL resolved once the whole tarball was read). */
  async setXattr(path: string, name: string, value: Buffer): Promise<void> {
    await this.session.send(`ea_set ${path === '' ? '<2>' : abs(path)} ${quote(name)} ${escapeValue(value)}`, `${displayPath(path)} (xattr ${name})`);
  }

  /** Whether an entry exists at `path` (for sources that add files at the end, e.g. /etc/fstab). */
  has(path: string): boolean {
    return this.known.has(path);
  }

  private async ensureDir(path: string, mtime: Timestamp): Promise<void> {
    const kind = this.known.get(path);
    if (kind === 'dir') return;
    if (kind === 'nondir') throw new TarballInvalidError(`${displayPath(path)} is used as a directory but is not one`);
    const slash = path.lastIndexOf('/');
    await this.ensureDir(slash < 0 ? '' : path.slice(0, slash), mtime);
    await this.session.send(`mkdir ${abs(path)}`, displayPath(path));
    this.known.set(path, 'dir');
    this.dirTimes.set(path, mtime);
  }

  private async cd(dir: string): Promise<void> {
    if (dir === this.cwd) return;
    await this.session.send(`cd ${abs(dir)}`, displayPath(dir));
    this.cwd = dir;
  }

  /** Mode, owner, xattrs and (except for directories) mtime. `fresh`: just created by debugfs. */
  private async applyMetadata(spec: string, path: string, entry: RootfsEntry, fresh: boolean): Promise<void> {
    const what = displayPath(path);
    const s = this.session;
    const type = entry.type === 'hardlink' ? 'file' : entry.type;
    const defaultMode = type === 'dir' ? 0o755 : type === 'symlink' ? 0o777 : type === 'file' && entry.content?.modeMatches ? entry.mode : -1;
    if (!fresh || entry.mode !== defaultMode) await s.send(`sif ${spec} mode 0${(TYPE_BITS[type] | (entry.mode & 0o7777)).toString(8)}`, what);
    if (!fresh || entry.uid !== 0) await s.send(`sif ${spec} uid ${entry.uid}`, what);
    if (!fresh || entry.gid !== 0) await s.send(`sif ${spec} gid ${entry.gid}`, what);
    for (const [name, value] of entry.xattrs) {
      if (name.includes('\n')) throw new EntryUnsupportedError(path, `xattr name ${JSON.stringify(name)} has a newline`);
      await s.send(`ea_set ${spec} ${quote(name)} ${escapeValue(value)}`, `${what} (xattr ${name})`);
    }
    if (type !== 'dir') await this.setTime(spec, what, entry.mtime);
  }

  private async setTime(spec: string, what: string, t: Timestamp): Promise<void> {
    // ext4 keeps 34 bits of seconds (1901 … 2446) and nanoseconds in i_mtime_extra
    const sec = Math.min(Math.max(Math.trunc(t.sec), -(2 ** 31)), 2 ** 34 - 2 ** 31 - 1);
    await this.session.send(`sif ${spec} mtime @${sec}`, what);
    const nsec = Math.min(Math.max(Math.trunc(t.nsec), 0), 999_999_999);
    if (nsec !== 0) {
      const epoch = Math.floor((sec + 2 ** 31) / 2 ** 32) & 3;
      await this.session.send(`sif ${spec} mtime_extra ${nsec * 4 + epoch}`, what);
    }
  }
}

/** debugfs argument quoting: double quotes, a quote inside doubled. */
export function quote(s: string): string {
  return '"' + s.replaceAll('"', '""') + '"';
}

function abs(path: string): string {
  return quote('/' + path);
}

/** An xattr value for `ea_set`, which reads C escapes: printable ASCII as is, every other byte as \xHH. */
function escapeValue(value: Buffer): string {
  let out = '"';
  for (const b of value) {
    if (b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c) out += String.fromCharCode(b);
    else out += '\\x' + b.toString(16).padStart(2, '0');
  }
  return out + '"';
}
