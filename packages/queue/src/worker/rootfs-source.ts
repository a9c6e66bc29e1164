/*
 * The input of a job with `filesystem`: a root tree (a directory under the image root) or a rootfs
 * tarball (`s3://…`, or a file under the image root), opened and checked before any target is looked at,
 * and turned into the source @bundlefarm/rootfs builds the image from.
 *
 * - A tree is found with the image root's own walk (image-root.ts: symlinks followed inside the root
 *   only; a path that is missing or leads out answers the same ENOENT) and must be a directory. The
 *   builder then reads every entry relative to its parent's descriptor with O_NOFOLLOW: a symlink in the
 *   tree is stored as a symlink, never followed out of it.
 * - A tarball is read through the very ImageSource a disk image would be (RootedFileImageSource: one
 *   verified descriptor; S3ImageSource: HeadObject, then ranged GETs with retries), front to back, as a
 *   stream for the builder's tar reader — never written to scratch as a whole.
 *
 * `checkFits` refuses, before any work, what cannot fit in the worker's scratch limit: an explicit size
 * above it, or a tarball (compressed) larger than it.
 */
import { lstat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import type { ImageSource } from '@bundlefarm/engine';
import { FileUnreadableError, ImageEmptyError } from '@bundlefarm/errors';
import { ScratchLimitError, type RootfsSource } from '@bundlefarm/rootfs';
import { S3ImageSource, type RetryEvent, type RetryOptions } from '@bundlefarm/s3';
import { notATree, resolveBeneath } from '../image-root.js';
import type { FilesystemSpec } from '../job-spec.js';
import type { RegionClients } from './region-clients.js';
import { RootedFileImageSource, type OpenedImageCheck } from './rooted-file-image-source.js';
import { ImageRootNotConfiguredError } from './worker-errors.js';

export interface RootfsInputOptions {
  imageRoot: string | undefined;
  clients: RegionClients;
  retry?: RetryOptions;
  signal?: AbortSignal;
  onRetry?: (event: RetryEvent) => void;
  /** The principal's image scope, checked on a local tarball as opened (job-authorization.ts openedImageCheck). */
  imageScope?: OpenedImageCheck | undefined;
}

/** Bytes asked of the tarball's source per read. */
const READ_SIZE = 4 * 1024 * 1024;

export class RootfsInput {
  /**
   * The error a read of the tarball failed with (S3 gone away, …): the builder sees only the stream end
   * early (and says the tarball is corrupt), so the job reports this one instead.
   */
  readError: unknown;

  private constructor(
    /** The image reference as the job gave it (for messages). */
    readonly description: string,
    /** Default bundle name: the tree's or the tarball's file name. */
    readonly defaultName: string,
    private readonly tree: string | undefined,
    private readonly tarball: ImageSource | undefined,
    /** The tarball's size (undefined for a tree). */
    readonly size: number | undefined,
  ) {}

  /** Resolves and opens `image` as `filesystem.from` says; throws the image's own errors (missing, not a directory …). */
  static async open(image: string, from: FilesystemSpec['from'], options: RootfsInputOptions): Promise<RootfsInput> {
    if (from === 'tree') {
      if (options.imageRoot === undefined) throw new ImageRootNotConfiguredError(image);
      const path = await resolveBeneath(options.imageRoot, image);
      let isDir: boolean;
      try {
        isDir = (await lstat(path)).isDirectory();
      } catch (err) {
        throw new FileUnreadableError(image, err);
      }
      if (!isDir) throw notATree(image);
      return new RootfsInput(image, basename(image.replace(/\/+$/, '')), path, undefined, undefined);
    }
    let source: ImageSource;
    if (image.startsWith('s3://')) {
      source = new S3ImageSource(options.clients.forImages(), image, {
        ...(options.retry ? { retry: options.retry } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onRetry ? { onRetry: options.onRetry } : {}),
      });
    } else {
      if (options.imageRoot === undefined) throw new ImageRootNotConfiguredError(image);
      source = await RootedFileImageSource.resolve(options.imageRoot, image, { scope: options.imageScope });
    }
    try {
      const { size } = await source.open();
      if (size === 0) throw new ImageEmptyError(image);
      return new RootfsInput(image, source.defaultName, undefined, source, size);
    } catch (err) {
      await source.close();
      throw err;
    }
  }

  /** Refuses (ScratchLimitError) what cannot fit in `limit` bytes of scratch, before any work. */
  checkFits(filesystem: FilesystemSpec, limit: number): void {
    if (filesystem.sizeMiB !== undefined && filesystem.sizeMiB * 1024 * 1024 > limit) {
      throw new ScratchLimitError(`an image of ${filesystem.sizeMiB} MiB (filesystem.sizeMiB)`, limit);
    }
    // the content of a tarball is (but for tar headers) at least as large as the tarball itself
    if (this.size !== undefined && this.size > limit) throw new ScratchLimitError(`the tarball ${this.description} is ${this.size} bytes`, limit);
  }

  /** The builder's source; `onRead` is told the bytes of the tarball read so far (for progress). */
  buildSource(onRead?: (bytes: number) => void): RootfsSource {
    if (this.tree !== undefined) return { tree: this.tree };
    const source = this.tarball!;
    const size = this.size!;
    const failed = (err: unknown): void => {
      this.readError ??= err;
    };
    async function* chunks(): AsyncGenerator<Buffer> {
      for (let position = 0; position < size; ) {
        const buf = Buffer.allocUnsafe(Math.min(READ_SIZE, size - position));
        try {
          await source.read(position, buf);
        } catch (err) {
          failed(err);
          throw err;
        }
        position += buf.length;
        onRead?.(position);
        yield buf;
      }
    }
    return { tarball: '-', stdin: Readable.from(chunks(), { objectMode: false }) };
  }

  async close(): Promise<void> {
    await this.tarball?.close();
  }
}
