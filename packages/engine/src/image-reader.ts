import { ImageEmptyError, ImageTooLargeError } from '@bundlefarm/errors';
import { MAX_IMAGE_SIZE, TAR_BLOCK_SIZE, buildTarHeader, checkBundleName, tarStreamLength } from '@bundlefarm/format';
import { FileImageSource, type ImageSource } from './image-source.js';

/**
 * Reads an image as the tar stream of one member (GNU header, data, zero padding and trailer), cut into
 * blocks that are filled by large reads straight into the block buffers.
 */
export interface OpenedImage {
  description: string;
  name: string;
  size: number;
  mode: number;
  mtime: number;
  /** Length of the whole tar stream. */
  tarLength: number;
}

export class ImageReader {
  private constructor(
    readonly image: OpenedImage,
    private readonly source: ImageSource,
    private readonly header: Buffer,
  ) {}

  /** Opens and checks the image: readable, 0 < size <= 10 GiB, and a usable bundle name. */
  static async open(image: string | ImageSource, name?: string): Promise<ImageReader> {
    const source = typeof image === 'string' ? new FileImageSource(image) : image;
    const bundleName = checkBundleName(name ?? source.defaultName);
    const info = await source.open();
    try {
      if (info.size === 0) throw new ImageEmptyError(source.description);
      if (info.size > MAX_IMAGE_SIZE) throw new ImageTooLargeError(source.description, info.size);
      const opened: OpenedImage = {
        description: source.description,
        name: bundleName,
        size: info.size,
        mode: info.mode ?? 0o644,
        mtime: info.mtime ?? Math.floor(Date.now() / 1000),
        tarLength: tarStreamLength(info.size),
      };
      const header = buildTarHeader({ name: bundleName, size: info.size, mode: opened.mode, mtime: opened.mtime });
      return new ImageReader(opened, source, header);
    } catch (err) {
      await source.close();
      throw err;
    }
  }

  /** Fill `buf` with the tar stream bytes [start, start + buf.length). Called with increasing `start`. */
  async readTar(start: number, buf: Uint8Array): Promise<void> {
    const end = start + buf.length;
    let pos = start;
    if (pos < TAR_BLOCK_SIZE) {
      const n = Math.min(TAR_BLOCK_SIZE, end) - pos;
      buf.set(this.header.subarray(pos, pos + n), 0);
      pos += n;
    }
    const dataEnd = TAR_BLOCK_SIZE + this.image.size;
    const readEnd = Math.min(end, dataEnd);
    if (pos < readEnd) {
      await this.source.read(pos - TAR_BLOCK_SIZE, buf.subarray(pos - start, readEnd - start));
      pos = readEnd;
    }
    if (pos < end) buf.fill(0, pos - start);
  }

  async close(): Promise<void> {
    await this.source.close();
  }
}
