/*
 * @bundlefarm/engine — how a bundle is made, on every core, in bounded memory.
 *
 * An ec2-bundle-image bundle is `tar | gzip -9 | openssl aes-128-cbc | split -b 10m`, with SHA-1 over
 * the tar stream and over each part. Amazon's tools run that as one pipeline of single-threaded
 * processes; the slowest stage (gzip) sets the pace and the other cores idle. This engine produces the
 * same bytes (same format, same framing; see ../../shared/docs/bundle-format.md) with each stage where it
 * parallelizes best:
 *
 *   image ──read──▶ tar stream ──blocks──▶ pool threads: deflate + CRC-32 per block ──pieces──┐
 *     (main thread: tar header, SHA-1 of the tar stream, holes skipped via SEEK_DATA)          │
 *   ┌────────────────────────────── in order ◀─────────────────────────────────────────────────┘
 *   └▶ gzip framing (header, pieces, combined CRC, trailer) ──▶ cipher thread: AES-CBC, 10 MiB parts
 *        ──▶ pool threads: SHA-1 per part ──▶ sink (directory with O_DIRECT, or S3 in every region)
 *
 * - Compression is split like pigz's: the tar stream is cut into blocks (1 MiB by default), each
 *   deflated on a pool thread with the previous block's last 32 KiB as its dictionary (zlib) or
 *   independently (libdeflate), each ending on a byte boundary (sync flush) so the pieces concatenate
 *   into one valid deflate stream; their CRC-32s are combined (crc32-combine.ts) for the gzip trailer.
 *   A block that does not compress is sent as stored blocks (stored-blocks.ts), and an all-zero block
 *   as a precomputed piece, so incompressible and sparse images run at copy speed.
 * - SHA-1 of the tar stream is inherently serial: it runs on the main thread, beside everything else.
 * - AES-CBC is serial too: one cipher thread per bundle (cipher-thread.ts), native AES in place when
 *   the addon is built, node:crypto otherwise.
 * - Memory is bounded by windows, not by image size: at most `threads × 2 + 2` blocks in flight, a fixed
 *   number of messages in the cipher thread's hands and of part buffers out at the sink. A slow sink
 *   stalls encryption, which stalls compression, which stalls reading — backpressure end to end.
 *   Buffers move between threads without copies; who owns which buffer when is thread-protocol.ts.
 *
 * Where to start reading: create-bundle.ts (the entry point), bundle-image.ts (the main thread's
 * pipeline), then the three kinds of thread and the messages between them: thread-protocol.ts, with
 * thread-pool.ts / pool-thread.ts (the pool threads) and cipher-stage.ts / cipher-thread.ts (the
 * cipher thread); part-sink.ts (where parts go). Unbundling (unbundle.ts, read-parts.ts) is the same
 * in reverse and serial: it checks every part's SHA-1 before using it.
 */
// The public API, by stage. Everything else in this package is internal to the pipeline.

// bundling
export { bundleImage, DEFAULT_BLOCK_SIZE, DEFAULT_LEVEL } from './bundle-image.js';
export type { BundleImageOptions, BundleResult, BundleStats } from './bundle-image.js';
export { createBundle } from './create-bundle.js';
export type { CreateBundleOptions, CreatedBundle } from './create-bundle.js';
export type { BundleProgress } from './progress.js';
export type { PieceMode } from './pool-thread.js';

// images
export { checkImageSize, FileImageSource } from './image-source.js';
export type { FileImageSourceOptions, ImageInfo, ImageSource } from './image-source.js';
export { findDataRuns, sparseDataRuns } from './sparse-scan.js';
export type { ScannableFile, ScanOptions, SparseScan, SparseScanMethod } from './sparse-scan.js';

// where parts go, and where they come from
export type { PartData, PartSink, SinkBeginInfo } from './part-sink.js';
export { DirectorySink } from './directory-sink.js';
export type { DirectorySinkOptions } from './directory-sink.js';
export type { PartSource } from './part-source.js';
export { DirectorySource } from './directory-source.js';

// unbundling
export { MAX_PART_BYTES, readVerifiedParts } from './read-parts.js';
export { unbundle } from './unbundle.js';
export type { UnbundleOptions, UnbundleResult } from './unbundle.js';
export { verifyBundle } from './verify-bundle.js';
export type { VerifyOptions, VerifyReport } from './verify-bundle.js';

// the pool threads, shared by every bundle of the process
export { closeSharedThreadPool, sharedThreadPool, ThreadPool } from './thread-pool.js';
export type { PoolActivity, ThreadPoolOptions } from './thread-pool.js';
export type { CompressResult, CompressTask } from './pool-thread.js';

// which implementation each stage runs
export { deflatePreference, resolveBackend } from './deflate-backend.js';
export type { DeflateBackend, DeflateBackendName } from './deflate-backend.js';
export { engineBackends, formatBackends } from './backends.js';
export type { EngineBackends, EngineBackendsOptions } from './backends.js';
export { crc32Combine } from './crc32-combine.js';

/**
 * The pool's former names, kept for packages/queue until it imports the ones above: `WorkerPool`
 * read as if it were BullMQ's Worker, beside which the queue package uses it.
 * @deprecated ThreadPool, sharedThreadPool, closeSharedThreadPool.
 */
export { ThreadPool as WorkerPool, sharedThreadPool as sharedWorkerPool, closeSharedThreadPool as closeSharedWorkerPool } from './thread-pool.js';
