import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { FileUnwritableError } from '@bundlefarm/errors';
import { CreatedDirectories } from './created-directories.js';
import { partName } from '@bundlefarm/format';
import { loadNative } from '@bundlefarm/native';
import type { PartData, PartSink, SinkBeginInfo } from './part-sink.js';

/** Memory, length and file offset alignment of O_DIRECT writes (the page size; covers 512 and 4Kn disks). */
const DIRECT_ALIGNMENT = 4096;

/**
 * Writes a bundle into a local directory exactly as ec2-bundle-image names it. Parts are written under
 * hidden temporary names and renamed to NAME.part.K (padding from the final count) at commit, so a
 * failed or cancelled bundle leaves neither a manifest nor parts behind; the manifest is written to a
 * temporary name and renamed, so it appears whole or not at all.
 */
export interface DirectorySinkOptions {
  /** Parts written concurrently (default 2). */
  maxInFlight?: number;
  /**
   * fsync parts and manifest before publishing them (default false: like tar, gzip and ec2-bundle-image,
   * rely on the page cache; the rename still makes publication atomic for readers).
   */
  fsync?: boolean;
  /**
   * 'auto' (default): write parts with O_DIRECT, past the page cache, where that works: Linux, a
   * filesystem that takes it, part memory aligned (the engine aligns it when the native addon is
   * loaded). In a VM, copying into the page cache costs ~2 s of CPU per GB written — on a 2-core
   * machine as much CPU as AES and both SHA-1s together — and a 10 GiB bundle would also push
   * 10 GiB of other files out of the cache. Falls back to buffered writes by itself (tmpfs, an
   * EINVAL). 'off': always buffered, e.g. on a disk much slower than the pipeline, where the page
   * cache lets a small bundle finish before it reaches the disk.
   */
  directIo?: 'auto' | 'off';
}

const alignedOffset = loadNative().binding?.alignedOffset;

export class DirectorySink implements PartSink {
  readonly maxInFlight: number;
  private readonly fsync: boolean;
  /** False once O_DIRECT failed here (or when it is off): later parts are written buffered. */
  private direct: boolean;
  private name = '';
  private readonly tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  private readonly temps = new Map<number, string>();
  private finals: string[] = [];
  private manifestPath: string | undefined;
  private aborted = false;
  /** The destination, if begin() created it: removed again by abort() when nothing else is in it. */
  private readonly created = new CreatedDirectories();

  constructor(readonly directory: string, options: DirectorySinkOptions = {}) {
    this.maxInFlight = options.maxInFlight ?? 2;
    this.fsync = options.fsync ?? false;
    this.direct = (options.directIo ?? 'auto') === 'auto' && constants.O_DIRECT !== undefined && alignedOffset !== undefined;
  }

  /** How many parts were written with O_DIRECT and how many through the page cache (for tests and stats). */
  readonly writes = { direct: 0, buffered: 0 };

  async begin(info: SinkBeginInfo): Promise<void> {
    this.name = info.name;
    try {
      await this.created.make(this.directory);
    } catch (err) {
      throw new FileUnwritableError(this.directory, err);
    }
  }

  async putPart(part: PartData): Promise<void> {
    this.assertLive();
    const path = join(this.directory, `.${this.name}.part.${part.index}.${this.tag}.tmp`);
    this.temps.set(part.index, path);
    if (this.direct && part.data.length >= DIRECT_ALIGNMENT && alignedOffset!(part.data, DIRECT_ALIGNMENT) === 0) {
      if (await this.writeDirect(path, part.data)) return;
    }
    this.writes.buffered++;
    await this.writeFileDurably(path, part.data);
  }

  /**
   * Writes the aligned bulk of `data` with O_DIRECT and the unaligned tail (of the last part) through
   * the page cache. False, with nothing left at `path`, when O_DIRECT is refused (EINVAL: a filesystem
   * without it, a device with larger sectors): then this part and the following ones are written
   * buffered. Other errors (ENOSPC, EIO …) are the write's own and are thrown.
   */
  private async writeDirect(path: string, data: Buffer): Promise<boolean> {
    const bulk = data.length - (data.length % DIRECT_ALIGNMENT);
    let handle: FileHandle | undefined;
    try {
      try {
        handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DIRECT, 0o666);
        await writeRange(handle, data, 0, bulk, true);
      } catch (err) {
        handle = await discard(handle, path);
        if ((err as NodeJS.ErrnoException).code === 'EINVAL') {
          this.direct = false;
          return false;
        }
        throw err;
      }
      if (bulk < data.length) {
        await handle.close();
        handle = await open(path, 'r+');
        await writeRange(handle, data, bulk, data.length);
      }
      if (this.fsync) await handle.datasync();
      this.writes.direct++;
      return true;
    } catch (err) {
      handle = await discard(handle, path);
      throw new FileUnwritableError(this.directory, err);
    } finally {
      await handle?.close();
    }
  }

  async commitParts(count: number): Promise<string[]> {
    this.assertLive();
    const names: string[] = [];
    for (let i = 0; i < count; i++) {
      const temp = this.temps.get(i);
      if (!temp) throw new Error(`part ${i} was never written`);
      const name = partName(this.name, i, count);
      const dest = join(this.directory, name);
      try {
        await rename(temp, dest);
      } catch (err) {
        throw new FileUnwritableError(dest, err);
      }
      this.temps.delete(i);
      this.finals.push(dest);
      names.push(name);
    }
    return names;
  }

  async putManifest(fileName: string, xml: string): Promise<void> {
    this.assertLive();
    const dest = join(this.directory, fileName);
    const temp = join(this.directory, `.${fileName}.${this.tag}.tmp`);
    this.temps.set(-1, temp);
    await this.writeFileDurably(temp, Buffer.from(xml, 'utf8'));
    try {
      await rename(temp, dest);
    } catch (err) {
      throw new FileUnwritableError(dest, err);
    }
    this.temps.delete(-1);
    this.manifestPath = dest;
  }

  async abort(): Promise<void> {
    this.aborted = true;
    const paths = [...this.temps.values(), ...this.finals, ...(this.manifestPath ? [this.manifestPath] : [])];
    this.temps.clear();
    this.finals = [];
    this.manifestPath = undefined;
    await Promise.all(paths.map((p) => rm(p, { force: true })));
    await this.created.removeIfEmpty();
  }

  private assertLive(): void {
    if (this.aborted) throw new Error('directory sink was aborted');
  }

  private async writeFileDurably(path: string, data: Buffer): Promise<void> {
    let handle: FileHandle | undefined;
    try {
      handle = await open(path, 'wx');
      await writeRange(handle, data, 0, data.length);
      if (this.fsync) await handle.datasync();
    } catch (err) {
      handle = await discard(handle, path);
      // the path is a hidden temporary name: the user knows the directory
      throw new FileUnwritableError(this.directory, err);
    } finally {
      await handle?.close();
    }
  }
}

/**
 * Writes data[from, to) at the same offsets of the file. With `direct`, a short write (which would leave
 * the rest unaligned) counts as O_DIRECT refused (EINVAL).
 */
async function writeRange(handle: FileHandle, data: Buffer, from: number, to: number, direct = false): Promise<void> {
  let off = from;
  while (off < to) {
    const { bytesWritten } = await handle.write(data, off, to - off, off);
    if (direct && (bytesWritten === 0 || bytesWritten % DIRECT_ALIGNMENT !== 0)) {
      throw Object.assign(new Error(`short O_DIRECT write (${bytesWritten} bytes)`), { code: 'EINVAL' });
    }
    if (bytesWritten === 0) throw new Error('the file system wrote nothing');
    off += bytesWritten;
  }
}

/** Closes a half-written file and removes it; returns undefined (the handle is gone). */
async function discard(handle: FileHandle | undefined, path: string): Promise<undefined> {
  await handle?.close().catch(() => {});
  await rm(path, { force: true });
  return undefined;
}
