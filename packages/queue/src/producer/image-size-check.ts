import { lstat, realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { FileUnreadableError, ImageEmptyError, ImageTooLargeError, isBundlefarmError } from '@bundlefarm/errors';
import { MAX_IMAGE_SIZE } from '@bundlefarm/format';
import { objectSize, S3BucketNotFoundError, S3ObjectNotFoundError } from '@bundlefarm/s3';
import { notATree, openBeneath, resolveBeneath } from '../image-root.js';

/** The S3 client type of @bundlefarm/s3 (without a direct dependency on the SDK). */
export type S3Client = Parameters<typeof objectSize>[0];

/**
 * The enqueue-time look at an image: refuse what is certain to fail (over 10 GiB, empty, missing, a
 * symlink out of the image root) before a job is queued, and let everything the producer cannot see
 * through (S3 refusing these credentials, a store that is down, a root that is not mounted here) go to
 * the workers, which check again.
 */
export interface ImageCheckOptions {
  /**
   * The local image root as this process sees it. Set it only where the workers' image root is mounted
   * too (same content): then local images must exist here, as regular files inside the root, at most
   * 10 GiB. Unset: local images are not checked at enqueue time.
   */
  imageRoot?: string;
  /** Client for HeadObject on `s3://` images. Unset: S3 images are not checked at enqueue time. */
  s3?: S3Client;
  /** Gives up on S3 after this many ms and lets the job through (default 5 000). */
  s3TimeoutMs?: number;
}

export type ImageCheck = { checked: true; size: number } | { checked: false; reason: string };

/**
 * What `image` names: a disk image (default), or with a spec's `filesystem.from` a root tree (a
 * directory under the image root) or a rootfs tarball (held to the 10 GiB of an image, as its content
 * must fit in one; the worker also refuses one larger than its scratch space).
 */
export type ImageKind = 'image' | 'tree' | 'tarball';

export async function checkImage(image: string, options: ImageCheckOptions, kind: ImageKind = 'image'): Promise<ImageCheck> {
  if (image.startsWith('s3://')) return checkS3Image(image, options);
  if (kind === 'tree') return checkLocalTree(image, options.imageRoot);
  return checkLocalImage(image, options.imageRoot);
}

function checkSize(image: string, size: number): void {
  if (size > MAX_IMAGE_SIZE) throw new ImageTooLargeError(image, size);
  if (size === 0) throw new ImageEmptyError(image);
}

async function realRoot(imageRoot: string): Promise<string | undefined> {
  return realpath(resolve(imageRoot)).catch(() => undefined);
}

/** A root tree: a directory inside the root (found by the same walk: a symlink out answers ENOENT). */
async function checkLocalTree(image: string, imageRoot: string | undefined): Promise<ImageCheck> {
  if (imageRoot === undefined) return { checked: false, reason: 'no local image root is configured here' };
  const root = await realRoot(imageRoot);
  if (root === undefined) return { checked: false, reason: 'the image root does not exist here' };
  const path = await resolveBeneath(root, image);
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    throw new FileUnreadableError(image, err);
  }
  if (!st.isDirectory()) throw notATree(image);
  return { checked: true, size: 0 };
}

async function checkLocalImage(image: string, imageRoot: string | undefined): Promise<ImageCheck> {
  if (imageRoot === undefined) return { checked: false, reason: 'no local image root is configured here' };
  const root = await realRoot(imageRoot);
  if (root === undefined) return { checked: false, reason: 'the image root does not exist here' };
  // as the worker opens it (see image-root.ts): a FIFO, socket or device is refused without blocking,
  // and a missing path answers exactly as one that leads out of the root through a symlink
  const { handle, stat } = await openBeneath(root, image);
  await handle.close();
  checkSize(image, stat.size);
  return { checked: true, size: stat.size };
}

async function checkS3Image(image: string, options: ImageCheckOptions): Promise<ImageCheck> {
  if (!options.s3) return { checked: false, reason: 'no S3 client is configured here' };
  let size: number;
  try {
    size = await objectSize(options.s3, image, { retry: { attempts: 1 }, signal: AbortSignal.timeout(options.s3TimeoutMs ?? 5_000) });
  } catch (err) {
    // certain: the object or its bucket is not there
    if (isBundlefarmError(err) && (err.code === S3ObjectNotFoundError.code || err.code === S3BucketNotFoundError.code)) throw err;
    // anything else (access denied to these credentials, a store that is down, a timeout) is left to the workers
    const reason = isBundlefarmError(err) ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
    return { checked: false, reason };
  }
  checkSize(image, size);
  return { checked: true, size };
}
