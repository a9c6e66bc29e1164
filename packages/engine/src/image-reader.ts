import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { FileUnreadableError, ImageEmptyError, ImageTooLargeError } from '@bundlefarm/errors';
import { MAX_IMAGE_SIZE, TAR_BLOCK_SIZE, buildTarHeader, checkBundleName, tarStreamLength } from '@bundlefarm/format';

/**
 * Reads an image file as the tar stream of one member (GNU header, data, zero padding and trailer),
 * cut into fixed-size blocks filled by large positional reads straight into the block buffers.
 */
export interface OpenedImage {
  path: string;
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
    private readonly handle: FileHandle,
    private readonly header: Buffer,
  ) {}

  /** Opens and checks the image: a readable regular file, 0 < size <= 10 GiB. */
  static async open(path: string, name?: string): Promise<ImageReader> {
    const bundleName = checkBundleName(name ?? basename(path));
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      throw new FileUnreadableError(path, err);
    }
    try {
      const st = await handle.stat();
      if (st.isDirectory()) throw new FileUnreadableError(path, Object.assign(new Error('is a directory'), { code: 'EISDIR' }));
      if (!st.isFile()) throw new FileUnreadableError(path, new Error('not a regular file'));
      if (st.size === 0) throw new ImageEmptyError(path);
      if (st.size > MAX_IMAGE_SIZE) throw new ImageTooLargeError(path, st.size);
      const image: OpenedImage = {
        path,
        name: bundleName,
        size: st.size,
        mode: st.mode & 0o7777,
        mtime: Math.floor(st.mtimeMs / 1000),
        tarLength: tarStreamLength(st.size),
      };
      const header = buildTarHeader({ name: bundleName, size: st.size, mode: image.mode, mtime: image.mtime });
      return new ImageReader(image, handle, header);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /**
   * Fill `buf` with the tar stream bytes [start, start + buf.length) (the caller keeps it within the
   * stream). Throws FileUnreadableError if the file shrinks or a read fails mid-stream.
   */
  async readTar(start: number, buf: Uint8Array): Promise<void> {
    const end = start + buf.length;
    let pos = start;
    if (pos < TAR_BLOCK_SIZE) {
      const n = Math.min(TAR_BLOCK_SIZE, end) - pos;
      buf.set(this.header.subarray(pos, pos + n), 0);
      pos += n;
    }
    const dataEnd = TAR_BLOCK_SIZE + this.image.size;
    while (pos < Math.min(end, dataEnd)) {
      const want = Math.min(end, dataEnd) - pos;
      let bytesRead: number;
      try {
        ({ bytesRead } = await this.handle.read(buf, pos - start, want, pos - TAR_BLOCK_SIZE));
      } catch (err) {
        throw new FileUnreadableError(this.image.path, err);
      }
      if (bytesRead === 0) {
        throw new FileUnreadableError(this.image.path, new Error(`the file shrank to ${pos - TAR_BLOCK_SIZE} bytes while being bundled`));
      }
      pos += bytesRead;
    }
    if (pos < end) buf.fill(0, pos - start);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
