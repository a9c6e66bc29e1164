import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { FileUnreadableError } from '@bundlefarm/errors';

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
  open(): Promise<ImageInfo>;
  /** Fill `buf` with the bytes at [position, position + buf.length). Called with increasing positions. */
  read(position: number, buf: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export class FileImageSource implements ImageSource {
  readonly description: string;
  readonly defaultName: string;
  private handle: FileHandle | undefined;
  private size = 0;

  constructor(readonly path: string) {
    this.description = path;
    this.defaultName = basename(path);
  }

  async open(): Promise<ImageInfo> {
    try {
      this.handle = await open(this.path, 'r');
    } catch (err) {
      throw new FileUnreadableError(this.path, err);
    }
    const st = await this.handle.stat();
    if (!st.isFile()) {
      await this.close(); // not left for garbage collection to close (with a warning on stderr)
      if (st.isDirectory()) throw new FileUnreadableError(this.path, Object.assign(new Error('is a directory'), { code: 'EISDIR' }));
      throw new FileUnreadableError(this.path, new Error('not a regular file'));
    }
    this.size = st.size;
    return { size: st.size, mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000), allocatedBytes: st.blocks * 512 };
  }

  async read(position: number, buf: Uint8Array): Promise<void> {
    let done = 0;
    while (done < buf.length) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await this.handle!.read(buf, done, buf.length - done, position + done));
      } catch (err) {
        throw new FileUnreadableError(this.path, err);
      }
      if (bytesRead === 0) {
        throw new FileUnreadableError(this.path, new Error(`the file shrank while being bundled (expected ${this.size} bytes)`));
      }
      done += bytesRead;
    }
  }

  /** The open file descriptor (after `open`), e.g. for SEEK_DATA/SEEK_HOLE. */
  get fd(): number | undefined {
    return this.handle?.fd;
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }
}
