/*
 * Reads a rootfs tarball as a stream of entries for the image builder. Owners, modes, times, device
 * numbers and xattrs come from the tar headers — never from whoever runs the build — so an unprivileged
 * CI job's `docker export` or `tar --numeric-owner` becomes a correct root filesystem.
 *
 * Regular files are staged one by one in the scratch directory (debugfs copies from a file) with their
 * zero runs left as holes, and deleted as soon as debugfs has copied them; at most `stageWindow` bytes
 * (or one file, when a file is larger) wait in scratch at a time.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { FileUnwritableError } from '@bundlefarm/errors';
import { ByteReader } from './byte-reader.js';
import { ExclusionReport, looksLikePrivateKey, type ExclusionClassId, type ExclusionPolicy } from './exclusion-policy.js';
import { aclTextToXattr, aclUsesNames, isMinimalAcl, parseIdFile } from './posix-acl.js';
import type { RootfsEntry } from './rootfs-entry.js';
import { readTarEntries } from './rootfs-tar-reader.js';
import { storableXattr } from './xattr-reader.js';

export interface TarballSourceOptions {
  stream: AsyncIterable<Buffer>;
  policy: ExclusionPolicy;
  /** Directory for staged file contents (created if missing). */
  stageDir: string;
  /** Bytes of staged content waiting for debugfs, at most (default 256 MiB; one larger file is allowed). */
  stageWindow?: number;
  report?: ExclusionReport;
  skip?: ReadonlySet<string>;
  onNote?: (note: string) => void;
  /**
   * Bytes of file data (holes not counted) staged over the whole tarball, at most: the error `tooMuch`
   * makes is thrown as soon as staging passes it (the file being staged is removed). What is staged is content still to be
   * written into the image, so scratch holds at most about this much plus the filesystem's metadata.
   */
  maxContentBytes?: { bytes: number; tooMuch: (bytes: number) => Error };
}

export interface DeferredXattr {
  path: string;
  name: string;
  value: Buffer;
}

/*
 * Staging uses synchronous calls: they land in the page cache in microseconds, where a thread-pool
 * round trip per call (open, write, truncate, close, unlink for each of 20,000 files) costs seconds.
 */
const openCb = async (path: string, flags: string, mode?: number): Promise<number> => fs.openSync(path, flags, mode);
const writeCb = async (fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> => fs.writeSync(fd, buf, off, len, pos);
const ftruncateCb = async (fd: number, len: number): Promise<void> => fs.ftruncateSync(fd, len);
const closeCb = async (fd: number): Promise<void> => fs.closeSync(fd);
const readCb = async (fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<{ bytesRead: number }> => ({
  bytesRead: fs.readSync(fd, buf, off, len, pos),
});
const unlinkQuiet = (path: string): void => {
  try {
    fs.unlinkSync(path);
  } catch {
    // already gone
  }
};
const ZERO = Buffer.alloc(4 * 1024 * 1024);

export class TarballSource {
  private staged = 0;
  /** File data (holes not counted) staged so far, over the whole tarball. */
  private contentBytes = 0;
  private counter = 0;
  private readonly waiters: Array<() => void> = [];
  private readonly pendingAcls: Array<{ path: string; name: string; text: string }> = [];
  private passwd = '';
  private group = '';
  readonly report: ExclusionReport;

  constructor(private readonly options: TarballSourceOptions) {
    this.report = options.report ?? new ExclusionReport();
  }

  async *entries(): AsyncGenerator<RootfsEntry> {
    const { policy } = this.options;
    const window = this.options.stageWindow ?? 256 * 1024 * 1024;
    await fs.promises.mkdir(this.options.stageDir, { recursive: true });
    const reader = new ByteReader(this.options.stream);
    const excluded = new Map<string, ExclusionClassId>();
    for await (const { entry: t, data } of readTarEntries(reader)) {
      if (this.options.skip?.has(t.path)) continue;
      const decision = policy.decide(t.path, t.type === 'dir');
      const linked = t.type === 'hardlink' ? excluded.get(t.target!) : undefined;
      const cls = decision.excluded ?? linked;
      if (cls) {
        this.report.add(cls, t.path);
        if (t.type === 'file' || t.type === 'hardlink') excluded.set(t.path, cls);
        continue;
      }
      const entry: RootfsEntry = {
        path: t.path,
        type: t.type,
        mode: t.mode,
        uid: t.uid,
        gid: t.gid,
        mtime: t.mtime,
        xattrs: [],
        size: t.size,
        ...(t.target !== undefined ? { target: t.target } : {}),
        ...(t.major !== undefined ? { major: t.major, minor: t.minor ?? 0 } : {}),
      };
      for (const [name, value] of t.xattrs) {
        if (storableXattr(name)) entry.xattrs.push([name, value]);
        else this.options.onNote?.(`/${t.path}: xattr ${name} left out (ext4 cannot store it)`);
      }
      for (const [kind, text] of Object.entries(t.aclText) as Array<['access' | 'default', string]>) {
        const name = `system.posix_acl_${kind}`;
        if (kind === 'access' && isMinimalAcl(text)) continue;
        if (aclUsesNames(text)) this.pendingAcls.push({ path: t.path, name, text });
        else entry.xattrs.push([name, aclTextToXattr(t.path, text)]);
      }
      if (t.type === 'file') {
        while (this.staged > 0 && this.staged + t.size > window) await new Promise<void>((r) => this.waiters.push(r));
        const stagePath = join(this.options.stageDir, String(this.counter++));
        await this.stage(stagePath, t.size, data());
        if (policy.keyCandidate(t.path) && looksLikePrivateKey(await readHead(stagePath, 64 * 1024))) {
          unlinkQuiet(stagePath);
          this.report.add('private-keys', t.path);
          excluded.set(t.path, 'private-keys');
          continue;
        }
        if ((t.path === 'etc/passwd' || t.path === 'etc/group') && t.size <= 4 * 1024 * 1024) {
          const text = fs.readFileSync(stagePath, 'latin1');
          if (t.path === 'etc/passwd') this.passwd = text;
          else this.group = text;
        }
        this.staged += t.size;
        const size = t.size;
        let released = false;
        entry.content = {
          path: stagePath,
          modeMatches: false,
          release: async () => {
            if (released) return;
            released = true;
            unlinkQuiet(stagePath);
            this.staged -= size;
            for (const w of this.waiters.splice(0)) w();
          },
        };
      }
      yield entry;
    }
  }

  /** ACLs that name users or groups, resolved with the image's own /etc/passwd and /etc/group. */
  deferredXattrs(): DeferredXattr[] {
    if (this.pendingAcls.length === 0) return [];
    const names = { users: parseIdFile(this.passwd), groups: parseIdFile(this.group) };
    return this.pendingAcls.map((a) => ({ path: a.path, name: a.name, value: aclTextToXattr(a.path, a.text, names) }));
  }

  private async stage(path: string, size: number, chunks: AsyncGenerator<{ offset: number; data: Buffer }>): Promise<void> {
    let fd: number;
    try {
      fd = await openCb(path, 'wx', 0o600);
    } catch (err) {
      throw new FileUnwritableError(path, err);
    }
    let over: Error | undefined;
    try {
      const limit = this.options.maxContentBytes;
      for await (const { offset, data } of chunks) {
        // zero runs stay holes: debugfs would not allocate them anyway, and scratch stays small
        if (data.length <= ZERO.length && data.equals(ZERO.subarray(0, data.length))) continue;
        this.contentBytes += data.length;
        if (limit && this.contentBytes > limit.bytes) {
          over = limit.tooMuch(this.contentBytes);
          break;
        }
        let done = 0;
        while (done < data.length) done += await writeCb(fd, data, done, data.length - done, offset + done);
      }
      if (!over) await ftruncateCb(fd, size);
    } catch (err) {
      await closeCb(fd).catch(() => {});
      unlinkQuiet(path);
      if ((err as NodeJS.ErrnoException).code) throw new FileUnwritableError(path, err);
      throw err;
    }
    await closeCb(fd);
    if (over) {
      unlinkQuiet(path);
      throw over;
    }
  }
}

async function readHead(path: string, n: number): Promise<Buffer> {
  const fd = await openCb(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await readCb(fd, buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await closeCb(fd);
  }
}
