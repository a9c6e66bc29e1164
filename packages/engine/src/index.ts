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
// Making a bundle: createBundle (image file → bundle directory, the CLI's path) and bundleImage (any
// ImageSource into any PartSink, a BullMQ worker's path), with their options, results and progress.
export { createBundle, type CreateBundleOptions, type CreatedBundle } from './create-bundle.js';
export { bundleImage, DEFAULT_LEVEL, type BundleImageOptions, type BundleResult } from './bundle-image.js';
export { type BundleProgress } from './progress.js';
// Where images come from (ImageSource; a local file) and where parts go (PartSink; a directory).
export { FileImageSource, checkImageSize, type ImageSource, type ImageInfo, type FileImageSourceOptions } from './image-source.js';
export { type PartSink, type PartData, type SinkBeginInfo } from './part-sink.js';
export { DirectorySink, type DirectorySinkOptions } from './directory-sink.js';
// Reading bundles back: where parts come from (PartSource; a directory), unbundling and verifying.
export { type PartSource } from './part-source.js';
export { DirectorySource } from './directory-source.js';
export { readVerifiedParts } from './read-parts.js';
export { unbundle, type UnbundleOptions, type UnbundleResult } from './unbundle.js';
export { verifyBundle, type VerifyOptions, type VerifyReport } from './verify-bundle.js';
// The pool threads (compression, part hashes, hole scans), shared by every bundle of a process.
export { ThreadPool, sharedThreadPool, closeSharedThreadPool, type ThreadPoolOptions, type PoolActivity } from './thread-pool.js';
// Which backends run (native or zlib deflate, AES, hole scan, part writes): for --version/--debug and a BullMQ worker's start log.
export { engineBackends, formatBackends, type EngineBackends, type EngineBackendsOptions } from './backends.js';

// For tests: the hole scan, the deflate backend choice and CRC-32 combination, checked on their own.
export { sparseDataRuns, findDataRuns } from './sparse-scan.js';
export { deflatePreference, resolveBackend } from './deflate-backend.js';
export { crc32Combine } from './crc32-combine.js';

