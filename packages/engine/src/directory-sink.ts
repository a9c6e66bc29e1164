import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FileUnwritableError } from '@bundlefarm/errors';
import { partName } from '@bundlefarm/format';
import type { PartData, PartSink, SinkBeginInfo } from './part-sink.js';

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
}

export class DirectorySink implements PartSink {
  readonly maxInFlight: number;
  private readonly fsync: boolean;
  private name = '';
  private readonly tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  private readonly temps = new Map<number, string>();
  private finals: string[] = [];
  private manifestPath: string | undefined;
  private aborted = false;

  constructor(readonly directory: string, options: DirectorySinkOptions = {}) {
    this.maxInFlight = options.maxInFlight ?? 2;
    this.fsync = options.fsync ?? false;
  }

  async begin(info: SinkBeginInfo): Promise<void> {
    this.name = info.name;
    try {
      await mkdir(this.directory, { recursive: true });
    } catch (err) {
      throw new FileUnwritableError(this.directory, err);
    }
  }

  async putPart(part: PartData): Promise<void> {
    this.assertLive();
    const path = join(this.directory, `.${this.name}.part.${part.index}.${this.tag}.tmp`);
    this.temps.set(part.index, path);
    await this.writeFileDurably(path, part.data);
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
  }

  private assertLive(): void {
    if (this.aborted) throw new Error('directory sink was aborted');
  }

  private async writeFileDurably(path: string, data: Buffer): Promise<void> {
    let handle;
    try {
      handle = await open(path, 'wx');
      let off = 0;
      while (off < data.length) {
        const { bytesWritten } = await handle.write(data, off, data.length - off);
        off += bytesWritten;
      }
      if (this.fsync) await handle.datasync();
    } catch (err) {
      await handle?.close().catch(() => {});
      handle = undefined;
      await rm(path, { force: true });
      throw new FileUnwritableError(path, err);
    } finally {
      await handle?.close();
    }
  }
}
