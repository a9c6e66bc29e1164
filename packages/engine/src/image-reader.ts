import {
  buildSparseTarHeader,
  buildTarHeader,
  checkBundleName,
  tarStreamLength,
  type DataRun,
} from '@bundlefarm/format';
import { checkImageSize, FileImageSource, type ImageInfo, type ImageSource } from './image-source.js';
import type { SparseScanMethod } from './sparse-scan.js';

/**
 * Reads an image as the tar stream of one member, cut into blocks filled by large reads straight into
 * the block buffers. A plain GNU member (header, data, padding, trailer), or — for sparse images — an
 * old-GNU sparse member whose data is only the image's data runs, as `tar -S` writes it.
 */
export interface OpenedImage {
  description: string;
  name: string;
  size: number;
  mode: number;
  mtime: number;
  /** Data runs when bundled as a sparse member. */
  runs: DataRun[] | undefined;
  /** How the file was scanned for holes, if it was. */
  sparseScan?: SparseScanMethod;
  /** Bytes of member data in the tar stream (the size, or the runs' total). */
  storedBytes: number;
  /** Length of the whole tar stream. */
  tarLength: number;
}

export class ImageReader {
  private readonly header: Buffer;
  /** Start of each run within the member data (for sparse members). */
  private readonly runStarts: number[] = [];

  private constructor(
    readonly image: OpenedImage,
    private readonly source: ImageSource,
  ) {
    const info = { name: image.name, size: image.size, mode: image.mode, mtime: image.mtime };
    this.header = image.runs ? buildSparseTarHeader(info, image.runs) : buildTarHeader(info);
    let at = 0;
    for (const r of image.runs ?? []) {
      this.runStarts.push(at);
      at += r.length;
    }
  }

  /** The source opened and checked: readable, 0 < size <= 10 GiB, and a usable bundle name. */
  static async openSource(image: string | ImageSource, name?: string): Promise<{ source: ImageSource; info: ImageInfo; name: string }> {
    const source = typeof image === 'string' ? new FileImageSource(image) : image;
    const bundleName = checkBundleName(name ?? source.defaultName);
    const info = await source.open();
    try {
      checkImageSize(source.description, info.size);
    } catch (err) {
      await source.close();
      throw err;
    }
    return { source, info, name: bundleName };
  }

  /** A reader over an opened source; `runs` makes it a sparse member. */
  static create(opened: { source: ImageSource; info: ImageInfo; name: string }, runs?: DataRun[], sparseScan?: SparseScanMethod): ImageReader {
    const { source, info, name } = opened;
    const storedBytes = runs ? runs.reduce((s, r) => s + r.length, 0) : info.size;
    const headerBytes = runs ? buildSparseTarHeader({ name, size: info.size }, runs).length : 512;
    const image: OpenedImage = {
      description: source.description,
      name,
      size: info.size,
      mode: info.mode ?? 0o644,
      mtime: info.mtime ?? Math.floor(Date.now() / 1000),
      runs,
      ...(sparseScan !== undefined ? { sparseScan } : {}),
      storedBytes,
      tarLength: tarStreamLength(storedBytes, headerBytes),
    };
    return new ImageReader(image, source);
  }

  get headerBytes(): number {
    return this.header.length;
  }

  /** Fill `buf` with the tar stream bytes [start, start + buf.length). Called with increasing `start`. */
  async readTar(start: number, buf: Uint8Array): Promise<void> {
    const end = start + buf.length;
    let pos = start;
    const headerEnd = this.header.length;
    if (pos < headerEnd) {
      const n = Math.min(headerEnd, end) - pos;
      buf.set(this.header.subarray(pos, pos + n), 0);
      pos += n;
    }
    const dataEnd = headerEnd + this.image.storedBytes;
    const readEnd = Math.min(end, dataEnd);
    if (pos < readEnd) {
      await this.readData(pos - headerEnd, buf.subarray(pos - start, readEnd - start));
      pos = readEnd;
    }
    if (pos < end) buf.fill(0, pos - start);
  }

  /** Member data [at, at + out.length): the file itself, or the concatenated runs. */
  private async readData(at: number, out: Uint8Array): Promise<void> {
    const runs = this.image.runs;
    if (!runs) return this.source.read(at, out);
    let i = upperBound(this.runStarts, at) - 1;
    let done = 0;
    while (done < out.length) {
      const run = runs[i]!;
      const within = at + done - this.runStarts[i]!;
      const n = Math.min(run.length - within, out.length - done);
      await this.source.read(run.offset + within, out.subarray(done, done + n));
      done += n;
      i++;
    }
  }

  async close(): Promise<void> {
    await this.source.close();
  }
}

/** Index of the first element greater than `x` in a sorted array. */
function upperBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
