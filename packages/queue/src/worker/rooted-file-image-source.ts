import { constants } from 'node:fs';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { basename, isAbsolute, relative, resolve, sep } from 'node:path';
import { FileImageSource, type ImageInfo } from '@bundlefarm/engine';
import { FileUnreadableError, UnsafePathError } from '@bundlefarm/errors';

/** How the image root is named in messages (job results are seen by API users; the server's paths are not theirs). */
const ROOT_LABEL = 'the image root';

/**
 * A local image that must lie inside the worker's image root, whatever symlinks the path goes through.
 *
 * `resolve` follows every symlink (realpath) and refuses a result outside the root; `open` opens that
 * real path without following a symlink in its last component, then resolves the path again and checks
 * that the file opened is the very file (device and inode) still found inside the root — so swapping a
 * directory for a symlink between the check and the open cannot smuggle a file from outside in.
 *
 * Messages name the path as the job gave it, relative to "the image root", not the server's layout.
 * It is a FileImageSource (the real path in `path`), so the engine's sparse-file handling applies.
 */
export class RootedFileImageSource extends FileImageSource {
  override readonly description: string;
  override readonly defaultName: string;
  private fh: FileHandle | undefined;
  private bytes = 0;

  private constructor(
    realPath: string,
    /** The path as the job gave it (relative to the root). */
    readonly requested: string,
    private readonly root: string,
  ) {
    super(realPath);
    this.description = requested;
    // the name the job asked for, not a symlink's target
    this.defaultName = basename(requested);
  }

  /**
   * Resolves `requested` (relative to `root`, which must itself be a real path). Rejects with
   * UnsafePathError when it (or a symlink on the way) leads outside the root, FileUnreadableError when
   * it does not exist.
   */
  static async resolve(root: string, requested: string): Promise<RootedFileImageSource> {
    const candidate = resolve(root, requested);
    if (isAbsolute(requested) || !isInside(root, candidate)) throw new UnsafePathError(requested, ROOT_LABEL);
    let real: string;
    try {
      real = await realpath(candidate);
    } catch (err) {
      throw new FileUnreadableError(requested, err);
    }
    if (!isInside(root, real)) throw new UnsafePathError(requested, ROOT_LABEL, { details: { reason: 'a symlink leads outside the image root' } });
    return new RootedFileImageSource(real, requested, root);
  }

  override async open(): Promise<ImageInfo> {
    let fh: FileHandle;
    try {
      fh = await open(this.path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      if ((err as { code?: string }).code === 'ELOOP') throw new UnsafePathError(this.requested, ROOT_LABEL, { details: { reason: 'became a symlink' } });
      throw new FileUnreadableError(this.requested, err);
    }
    try {
      const st = await fh.stat();
      if (st.isDirectory()) throw new FileUnreadableError(this.requested, Object.assign(new Error('is a directory'), { code: 'EISDIR' }));
      if (!st.isFile()) throw new FileUnreadableError(this.requested, new Error('not a regular file'));
      // the file opened must still be the one found inside the root
      let again: string;
      try {
        again = await realpath(this.path);
      } catch (err) {
        throw new FileUnreadableError(this.requested, err);
      }
      const now = await stat(again);
      if (!isInside(this.root, again) || now.dev !== st.dev || now.ino !== st.ino) {
        throw new UnsafePathError(this.requested, ROOT_LABEL, { details: { reason: 'the path changed while it was opened' } });
      }
      this.fh = fh;
      this.bytes = st.size;
      const info = { size: st.size, mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000), allocatedBytes: st.blocks * 512 };
      return info;
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  override async read(position: number, buf: Uint8Array): Promise<void> {
    if (!this.fh) throw new Error('RootedFileImageSource.read before open');
    let done = 0;
    while (done < buf.length) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await this.fh.read(buf, done, buf.length - done, position + done));
      } catch (err) {
        throw new FileUnreadableError(this.requested, err);
      }
      if (bytesRead === 0) {
        throw new FileUnreadableError(this.requested, new Error(`the file shrank while being bundled (expected ${this.bytes} bytes)`));
      }
      done += bytesRead;
    }
  }

  override async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }
}

/** True when `path` lies strictly below `root` (both absolute). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}
