/**
 * The ext4 image of a job with `filesystem`: built from its root tree or rootfs tarball
 * (rootfs-source.ts) in the worker's scratch space (stage "building-filesystem", progress by phase),
 * handed to the bundler, and deleted however that ends. What was left out of the tree (devices,
 * sockets …) is logged and noted in the job.
 */
import { FileImageSource, type BundleResult, type ImageSource } from '@bundlefarm/engine';
import { withRootfsImage } from '@bundlefarm/rootfs';
import type { FilesystemSpec } from '../job-spec.js';
import type { JobProgressReporter } from './progress-reporter.js';
import type { RootfsInput } from './rootfs-source.js';
import type { WorkerConfig } from './worker-config.js';
import type { WorkerLogger } from './worker-logger.js';

export interface FilesystemBuildContext {
  reporter: JobProgressReporter;
  log: WorkerLogger;
  /** A line in the job's BullMQ log (best effort). */
  note: (text: string) => Promise<void>;
  scratch: WorkerConfig['scratch'];
}

/**
 * Builds the job's ext4 image from its tree or tarball in the scratch space (stage
 * "building-filesystem"), hands it to `bundle`, and deletes it however that ends. A tarball that could
 * not be read fails the job with the read's own error (transient S3 trouble stays transient), not the
 * builder's "corrupt tarball".
 */
export async function buildFilesystem(
  ctx: FilesystemBuildContext,
  fs: FilesystemSpec,
  input: RootfsInput,
  name: string,
  signal: AbortSignal,
  bundle: (image: ImageSource) => Promise<BundleResult>,
): Promise<BundleResult> {
  const { reporter, scratch } = ctx;
  let tarballRead = 0;
  reporter.filesystem({ phase: 'scanning', entries: 0, fileBytes: 0 }, 0);
  const started = performance.now();
  try {
    return await withRootfsImage(
      {
        source: input.buildSource((bytes) => (tarballRead = bytes)),
        scratchDir: scratch.dir,
        scratchLimit: scratch.maxBytes,
        ...(fs.sizeMiB !== undefined ? { size: fs.sizeMiB * 1024 * 1024 } : {}),
        partition: fs.partition,
        ...(fs.label !== undefined ? { label: fs.label } : {}),
        ...(fs.fstab === 'generate' ? { fstab: 'generate' as const } : {}),
        signal,
        onProgress: (p) =>
          reporter.filesystem(
            { phase: p.phase, entries: p.entries, fileBytes: p.fileBytes },
            p.fraction ?? (input.size ? tarballRead / input.size : undefined),
          ),
        onExclusions: (summary) => {
          if (summary.length === 0) return;
          ctx.log.info({ excluded: summary.map((c) => ({ class: c.id, count: c.count, examples: c.examples })) }, 'left out of the filesystem');
          void ctx.note(`left out of the filesystem: ${summary.map((c) => `${c.title} (${c.count})`).join('; ')}`);
        },
        onNote: (note) => ctx.log.debug({ note }, 'filesystem build note'),
      },
      async (built) => {
        reporter.filesystem({ phase: 'done', entries: built.entries, fileBytes: built.fileBytes }, 1);
        const seconds = round((performance.now() - started) / 1000);
        ctx.log.info(
          { from: fs.from, size: built.size, fsSize: built.fsSize, partition: built.partition, uuid: built.uuid, entries: built.entries, files: built.files, fileBytes: built.fileBytes, seconds },
          'filesystem built',
        );
        await ctx.note(`filesystem built: ext4, ${built.size} bytes (${built.partition === 'none' ? 'no partition table' : built.partition}), UUID ${built.uuid}, ${built.entries} entries in ${seconds} s`);
        return bundle(new FileImageSource(built.path, { description: `the filesystem built from ${input.description}`, defaultName: name }));
      },
    );
  } catch (err) {
    throw input.readError ?? err;
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
