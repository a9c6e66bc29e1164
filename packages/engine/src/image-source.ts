import { constants, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { FileUnreadableError, ImageEmptyError, ImageTooLargeError } from '@bundlefarm/errors';
import { checkRegularFile, MAX_IMAGE_SIZE } from '@bundlefarm/format';

/**
 * Where the bytes of an image come from: a local file, or an object in S3 (`@bundlefarm/s3`). The engine
 * reads front to back, in order, in large blocks; implementations may rely on that (one streaming GET).
 */
export interface ImageInfo {
  size: number;
  /** Permission bits for the tar header (default 0o644). */
  mode?: number;
  /** Modification time in seconds (default: now). */
  mtime?: number;
  /** Bytes allocated on disk, when known: fewer than `size` means the file has holes (is sparse). */
  allocatedBytes?: number;
}

export interface ImageSource {
  /** For messages: a path or URL. */
  readonly description: string;
  /** Default bundle name: the file name. */
  readonly defaultName: string;
  /**
   * Opens and checks the image (a local file: open + fstat; S3: HeadObject). Sources of this package
   * and of @bundlefarm/s3 answer a second call with the same info, without I/O: a caller may open the
   * image before handing it to the engine, to learn it is usable before anything else happens.
   */
  open(): Promise<ImageInfo>;
  /** Fill `buf` with the bytes at [position, position + buf.length). Called with increasing positions. */
  read(position: number, buf: Uint8Array): Promise<void>;
  close(): Promise<void>;
  /**
   * The open file descriptor of a local file (after `open`), when the source reads one: the engine asks
   * the filesystem where its data is (SEEK_DATA/SEEK_HOLE) and scans it through this very descriptor.
   */
  readonly fd?: number | undefined;
}

/**
 * Flags of every open of a local image: read only, and never blocking — a FIFO opens at once instead
 * of waiting for a writer (forever, uninterruptibly, on a libuv thread), and is then refused by the
 * fstat check like any other file that is not a regular file. O_NONBLOCK changes nothing for reads of
 * regular files.
 */
export const IMAGE_OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

export interface FileImageSourceOptions {
  /** For messages (default: the path). Sources that must not disclose the server's layout name the path as asked. */
  description?: string;
  /** Default bundle name (default: the path's file name). */
  defaultName?: string;
}

/**
 * A local image file. `new FileImageSource(path)` opens the path itself (following symlinks, as a
 * command-line tool does); `FileImageSource.fromHandle` reads a file someone else opened and checked
 * (e.g. inside a BullMQ worker's image root, without following symlinks): the descriptor checked is the one read.
 */
export class FileImageSource implements ImageSource {
  readonly description: string;
  readonly defaultName: string;
  private handle: FileHandle | undefined;
  private info: ImageInfo | undefined;
  private size = 0;

  constructor(
    readonly path: string,
    options: FileImageSourceOptions = {},
  ) {
    this.description = options.description ?? path;
    this.defaultName = options.defaultName ?? basename(path);
  }

  /** A source over an already opened file (`path` is what it was opened as; it is not opened again). */
  static fromHandle(handle: FileHandle, path: string, options: FileImageSourceOptions = {}): FileImageSource {
    const source = new FileImageSource(path, options);
    source.handle = handle;
    return source;
  }

  async open(): Promise<ImageInfo> {
    if (this.info) return this.info;
    if (!this.handle) {
      try {
        this.handle = await open(this.path, IMAGE_OPEN_FLAGS);
      } catch (err) {
        throw new FileUnreadableError(this.description, err);
      }
    }
    let st: Stats;
    try {
      st = await this.handle.stat();
      checkRegularFile(st, this.description);
    } catch (err) {
      await this.close();
      throw err instanceof FileUnreadableError ? err : new FileUnreadableError(this.description, err);
    }
    this.size = st.size;
    this.info = { size: st.size, mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000), allocatedBytes: st.blocks * 512 };
    return this.info;
  }

  async read(position: number, buf: Uint8Array): Promise<void> {
    if (!this.handle || !this.info) throw new Error('FileImageSource.read before open or after close');
    let done = 0;
    while (done < buf.length) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await this.handle.read(buf, done, buf.length - done, position + done));
      } catch (err) {
        throw new FileUnreadableError(this.description, err);
      }
      if (bytesRead === 0) {
        throw new FileUnreadableError(this.description, new Error(`the file shrank while being bundled (expected ${this.size} bytes)`));
      }
      done += bytesRead;
    }
  }

  /** The open file descriptor (after `open`), e.g. for SEEK_DATA/SEEK_HOLE. */
  get fd(): number | undefined {
    return this.handle?.fd;
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    this.info = undefined;
    await handle?.close();
  }
}

/** Throws ImageEmptyError or ImageTooLargeError unless 0 < `size` <= 10 GiB. */
export function checkImageSize(description: string, size: number): void {
  if (size === 0) throw new ImageEmptyError(description);
  if (size > MAX_IMAGE_SIZE) throw new ImageTooLargeError(description, size);
}

/** Throws FileUnreadableError (naming `description`) unless `st` is a regular file's. */
/** A regular file, or FileUnreadableError naming what it is instead (@bundlefarm/format). */
export { checkRegularFile };
