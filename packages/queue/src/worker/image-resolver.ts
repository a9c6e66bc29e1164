import type { ImageSource } from '@bundlefarm/engine';
import { S3ImageSource, type RetryEvent, type RetryOptions } from '@bundlefarm/s3';
import type { RegionClients } from './region-clients.js';
import { RootedFileImageSource, type OpenedImageCheck } from './rooted-file-image-source.js';
import { ImageRootNotConfiguredError } from './worker-errors.js';

/**
 * Turns a job's image reference into an ImageSource: `s3://bucket/key` streams the object (client of
 * the configured image region); anything else is a path relative to the worker's image root, which it
 * must not leave (symlinks included). Nothing is opened here: the processor opens the source (open +
 * fstat, or HeadObject) before it looks at any target, and the engine reads it.
 */
export interface ImageResolverOptions {
  /** Real path of the image root; undefined when the worker has none (local images are then refused). */
  imageRoot: string | undefined;
  clients: RegionClients;
  retry?: RetryOptions;
  signal?: AbortSignal;
  onRetry?: (event: RetryEvent) => void;
  /** The principal's image scope, checked on the local file as opened (job-authorization.ts openedImageCheck). */
  imageScope?: OpenedImageCheck | undefined;
}

export async function resolveImage(image: string, options: ImageResolverOptions): Promise<ImageSource> {
  if (image.startsWith('s3://')) {
    return new S3ImageSource(options.clients.forImages(), image, {
      ...(options.retry ? { retry: options.retry } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onRetry ? { onRetry: options.onRetry } : {}),
    });
  }
  if (options.imageRoot === undefined) throw new ImageRootNotConfiguredError(image);
  return RootedFileImageSource.resolve(options.imageRoot, image, { scope: options.imageScope });
}
