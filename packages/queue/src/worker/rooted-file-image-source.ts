/*
 * A local image that must lie inside the worker's image root, whatever symlinks the path goes through
 * (see image-root.ts for the walk, the open and the checks).
 *
 * `resolve` walks the path (an early, typed error for a path that is missing or leads out); `open`
 * opens it with O_RDONLY | O_NOFOLLOW | O_NONBLOCK, checks the descriptor with fstat and that it is
 * still the file found inside the root, and from then on every byte — the engine's reads and its
 * sparse scan (SEEK_DATA on `fd`, or the read-based scan through the same descriptor) — comes through
 * that verified descriptor: a FileImageSource built on the handle, never a second open by name.
 *
 * With `scope` (the job's principal's image scope), `open` checks the file it actually opened — its
 * real path as verified on the descriptor, not the name the job's authorization looked at earlier — so a
 * symlink swapped in between the two (in the file's place or a directory's on the way) cannot lead the
 * read into an image the principal may not read (security re-review R2).
 *
 * Messages name the path as the job gave it, relative to "the image root", not the server's layout.
 */
import { basename } from 'node:path';
import { FileImageSource, type ImageInfo, type ImageSource } from '@bundlefarm/engine';
import { openBeneath, pathInRoot, resolveBeneath } from '../image-root.js';

/** Throws (OutOfScopeError) unless the file opened, named by its real path inside the root (`a/b.img`), may be read. */
export type OpenedImageCheck = (pathInRoot: string) => void;

export interface RootedFileOptions {
  /** Checked against what `open` opened, before a byte is read; undefined: any file inside the root. */
  scope?: OpenedImageCheck | undefined;
}

export class RootedFileImageSource implements ImageSource {
  readonly description: string;
  readonly defaultName: string;
  private file: FileImageSource | undefined;

  private constructor(
    /** The real path found at `resolve` (the server's layout: never put it in a message). */
    readonly path: string,
    /** The path as the job gave it (relative to the root). */
    readonly requested: string,
    private readonly root: string,
    private readonly scope: OpenedImageCheck | undefined,
  ) {
    this.description = requested;
    // the name the job asked for, not a symlink's target
    this.defaultName = basename(requested);
  }

  /**
   * Resolves `requested` (relative to `root`, which must itself be a real path). Rejects with
   * UnsafePathError when its text leaves the root, with the same FileUnreadableError (ENOENT) whether
   * it does not exist or a symlink on the way leads outside the root.
   */
  static async resolve(root: string, requested: string, options: RootedFileOptions = {}): Promise<RootedFileImageSource> {
    return new RootedFileImageSource(await resolveBeneath(root, requested), requested, root, options.scope);
  }

  /** Opens and checks the file (once: later calls answer the same info). */
  async open(): Promise<ImageInfo> {
    if (!this.file) {
      const { handle, path } = await openBeneath(this.root, this.requested);
      try {
        this.scope?.(pathInRoot(this.root, path));
      } catch (err) {
        await handle.close();
        throw err;
      }
      this.file = FileImageSource.fromHandle(handle, path, { description: this.description, defaultName: this.defaultName });
    }
    try {
      return await this.file.open();
    } catch (err) {
      this.file = undefined;
      throw err;
    }
  }

  read(position: number, buf: Uint8Array): Promise<void> {
    if (!this.file) return Promise.reject(new Error('RootedFileImageSource.read before open'));
    return this.file.read(position, buf);
  }

  /** The descriptor opened and verified by `open` (undefined before it and after `close`). */
  get fd(): number | undefined {
    return this.file?.fd;
  }

  async close(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }
}
