/**
 * Streaming, multi-core bundling, the main thread's pipeline: image → tar stream → parallel gzip (one
 * member) → AES-128-CBC → 10 MiB parts → sink. SHA-1 of the tar stream and CRC combination run on the
 * calling thread, AES and part slicing on the cipher thread (cipher-stage.ts), compression and part
 * hashing on the pool threads (part-stage.ts hands parts to the sink); every queue is bounded, so
 * memory does not grow with the image.
 */
import { createHash } from 'node:crypto';
import { CancelledError, InvalidOptionError } from '@bundlefarm/errors';
import {
  PART_SIZE,
  generateBundleSecret,
  partCount,
  type BundleFacts,
  type BundleSecret,
  type DataRun,
  type ManifestPart,
} from '@bundlefarm/format';
import { CipherStage } from './cipher-stage.js';
import { crc32Combine } from './crc32-combine.js';
import { resolveBackend, type DeflateBackendName } from './deflate-backend.js';
import { GZIP_HEADER, gzipTrailer } from './gzip-framing.js';
import { ImageReader } from './image-reader.js';
import type { ImageSource } from './image-source.js';
import { sparseDataRuns, type SparseScanMethod } from './sparse-scan.js';
import type { PartSink } from './part-sink.js';
import { PartStage } from './part-stage.js';
import type { CompressResult, PieceMode } from './pool-thread.js';
import { ProgressThrottle, type BundleProgress } from './progress.js';
import { storedBlocksLength } from './stored-blocks.js';
import { sharedThreadPool, type ThreadPool } from './thread-pool.js';
import { standalone } from './transfer-list.js';

export interface BundleImageOptions {
  /** The image: a file path, or any ImageSource (e.g. an S3 object). */
  image: string | ImageSource;
  /** Bundle name: tar member, part and manifest prefix (default: the image's file name). */
  name?: string;
  /** Compression level 1–9 (default DEFAULT_LEVEL). */
  level?: number;
  /** Blocks of this bundle compressing at once (default: the pool's thread count). */
  threads?: number;
  /** Deflate implementation (default 'auto': libdeflate when its binding loads, else zlib). */
  backend?: DeflateBackendName | 'auto';
  /** Bytes of tar stream per compression task (default DEFAULT_BLOCK_SIZE; 64 KiB–64 MiB). */
  blockSize?: number;
  /** CPU pool (default: the process-wide shared pool). */
  pool?: ThreadPool;
  signal?: AbortSignal;
  /** Called at most every `progressIntervalMs` and once at the end. */
  onProgress?: (progress: BundleProgress) => void;
  /** Milliseconds between progress calls (default 200). */
  progressIntervalMs?: number;
  /** AES key and IV (default: fresh random ones). */
  secret?: BundleSecret;
  /**
   * 'auto' (default): a file with holes is bundled as an old-GNU sparse tar member, as `tar -S` in
   * ec2-bundle-image does, so holes cost nothing; 'never': always a plain member.
   */
  sparse?: 'auto' | 'never';
}

/** Default compression level, chosen from `npm run bench` (see README, Performance). */
export const DEFAULT_LEVEL = 5;
export const DEFAULT_BLOCK_SIZE = 2 * 1024 * 1024;

export interface BundleStats {
  seconds: number;
  tarBytes: number;
  /** Bundled as an old-GNU sparse member (holes left out of the tar stream). */
  sparse: boolean;
  /** How a local file with holes was scanned for its data (absent: no scan, e.g. not sparse or not a local file). */
  sparseScan?: SparseScanMethod;
  gzipBytes: number;
  backend: DeflateBackendName;
  level: number;
  /** How many blocks were deflated, stored (incompressible) or all zeros. */
  blocks: Record<PieceMode, number>;
}

export interface BundleResult {
  name: string;
  facts: BundleFacts;
  /** AES key and IV, for building manifests in memory only: never log, store or return them. */
  secret: BundleSecret;
  stats: BundleStats;
}

export async function bundleImage(options: BundleImageOptions, sink: PartSink): Promise<BundleResult> {
  const started = performance.now();
  const level = options.level ?? DEFAULT_LEVEL;
  if (!Number.isInteger(level) || level < 1 || level > 9) {
    throw new InvalidOptionError('level', `${String(level)} is not a compression level from 1 to 9`);
  }
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!Number.isInteger(blockSize) || blockSize < 64 * 1024 || blockSize > 64 * 1024 * 1024) {
    throw new InvalidOptionError('block size', `${String(blockSize)} is not between 64 KiB and 64 MiB`);
  }
  const pool = options.pool ?? sharedThreadPool();
  const threads = options.threads ?? pool.threads;
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    throw new InvalidOptionError('threads', `${String(threads)} is not a whole number from 1 to 256`);
  }
  if (options.signal?.aborted) throw new CancelledError('bundle');
  const reader = await openImage(options, pool);
  try {
    return await new BundleRun(options, sink, pool, reader, level, blockSize, threads, started).run();
  } finally {
    await reader.close();
  }
}

/** Holes must add up to this much (and 1/32 of the image) to make a sparse member worth it. */
const SPARSE_MIN_HOLES = 1024 * 1024;

async function openImage(options: BundleImageOptions, pool: ThreadPool): Promise<ImageReader> {
  const opened = await ImageReader.openSource(options.image, options.name);
  try {
    const { source, info } = opened;
    let runs: DataRun[] | undefined;
    let method: SparseScanMethod | undefined;
    // a local file (it has an open descriptor) with fewer bytes allocated than its size has holes
    if ((options.sparse ?? 'auto') === 'auto' && source.fd !== undefined && info.allocatedBytes !== undefined && info.allocatedBytes < info.size) {
      const found = await sparseDataRuns({ fd: source.fd, description: source.description }, info.size, pool, options.signal ? { signal: options.signal } : {});
      method = found.method;
      const holes = info.size - found.runs.reduce((s, r) => s + r.length, 0);
      if (holes >= SPARSE_MIN_HOLES && holes >= info.size / 32) runs = found.runs;
    }
    return ImageReader.create(opened, runs, method);
  } catch (err) {
    await opened.source.close();
    throw err;
  }
}

/**
 * State of one bundling run. Four kinds of work overlap: the event loop reads blocks, hashes the tar
 * stream and moves buffers; the pool compresses blocks and hashes parts; the encryption thread runs
 * AES-CBC and cuts parts; libuv threads read the image and the sink writes.
 */
class BundleRun {
  private readonly backend;
  private readonly secret: BundleSecret;
  private readonly blockCount: number;
  private readonly lastBlockLength: number;
  /** Aborted by the caller's signal or by a failure in any stage; stops every stage. */
  private readonly internal = new AbortController();
  private readonly throttle: ProgressThrottle;
  private readonly progress: BundleProgress;

  private readonly tarHash = createHash('sha1');
  private crc = 0;
  private gzipBytes = 0;
  private readonly blocks: Record<PieceMode, number> = { deflate: 0, stored: 0, zero: 0 };

  // compression window
  private readonly compressOps = new Map<number, Promise<CompressResult>>();
  private readonly freeBlocks: Uint8Array[] = [];
  private slotsFree: number;
  private wakeProducer: (() => void) | undefined;
  private wakeConsumer: (() => void) | undefined;

  // encryption and parts
  private cipher: CipherStage | undefined;
  private readonly parts: PartStage;

  constructor(
    private readonly options: BundleImageOptions,
    private readonly sink: PartSink,
    private readonly pool: ThreadPool,
    private readonly reader: ImageReader,
    private readonly level: number,
    private readonly blockSize: number,
    threads: number,
    private readonly started: number,
  ) {
    this.backend = resolveBackend(options.backend ?? 'auto');
    this.secret = options.secret ?? generateBundleSecret();
    const tarLength = reader.image.tarLength;
    this.blockCount = Math.ceil(tarLength / blockSize);
    this.lastBlockLength = tarLength - (this.blockCount - 1) * blockSize;
    this.slotsFree = threads * 2 + 2;
    this.throttle = new ProgressThrottle(options.onProgress, options.progressIntervalMs ?? 200);
    this.progress = {
      stage: 'bundling',
      bytesIn: 0,
      totalIn: reader.image.size,
      bytesOut: 0,
      partsDone: 0,
      partsTotal: undefined,
    };
    this.parts = new PartStage({
      pool,
      sink,
      signal: this.internal.signal,
      onFree: (buffer) => this.cipher?.free(buffer),
      onStored: () => {
        this.progress.partsDone++;
        this.throttle.update(this.progress);
      },
      onFailure: (err) => this.abortStages(err),
    });
  }

  async run(): Promise<BundleResult> {
    const { signal } = this.options;
    const onAbort = (): void => this.abortStages();
    signal?.addEventListener('abort', onAbort, { once: true });
    let producer: Promise<void> = Promise.resolve();
    try {
      await this.sink.begin({ name: this.reader.image.name, maxPartCount: partCount(this.maxCipherLength()) });
      this.cipher = new CipherStage({
        secret: this.secret,
        partSize: PART_SIZE,
        maxParts: Math.max(1, this.sink.maxInFlight) + 2,
        onPart: (data) => {
          this.progress.bytesOut += data.length;
          this.parts.push(data);
        },
        onAck: (data) => {
          if (data.length === this.blockSize) this.freeBlocks.push(data);
        },
      });
      producer = this.produce();
      producer.catch((err: unknown) => this.abortStages(err));
      await this.consume(producer);
      await producer;
      return await this.finish();
    } catch (err) {
      this.abortStages();
      await this.cipher?.terminate();
      await Promise.allSettled([producer, this.parts.settled(), ...this.compressOps.values()]);
      await this.sink.abort().catch(() => {});
      const cause = this.failure ?? err;
      if (signal?.aborted && !(cause instanceof CancelledError)) throw new CancelledError('bundle', { cause });
      throw cause;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** The first failure of an asynchronous stage (reading, a part upload), reported instead of its echoes. */
  private failure: unknown;

  private abortStages(err?: unknown): void {
    this.failure ??= err;
    this.internal.abort();
    this.cipher?.abort(this.internal.signal.reason as Error);
    this.wakeProducer?.();
    this.wakeConsumer?.();
  }

  /** Largest possible ciphertext: every block stored, plus gzip frame and a full AES padding block. */
  private maxCipherLength(): number {
    return (
      GZIP_HEADER.length +
      (this.blockCount - 1) * storedBlocksLength(this.blockSize) +
      storedBlocksLength(this.lastBlockLength) +
      8 +
      16
    );
  }

  /** Reads blocks in order, hashes the tar stream, and hands blocks to the pool within the window. */
  private async produce(): Promise<void> {
    const stop = this.internal.signal;
    let dictionary: Uint8Array | undefined;
    for (let i = 0; i < this.blockCount; i++) {
      while (this.slotsFree === 0 && !stop.aborted) await new Promise<void>((r) => (this.wakeProducer = r));
      stop.throwIfAborted();
      this.slotsFree--;
      const start = i * this.blockSize;
      const length = i === this.blockCount - 1 ? this.lastBlockLength : this.blockSize;
      let buf = this.freeBlocks.pop();
      // shared, not transferred: see transfer-list.ts
      if (buf?.length !== length) buf = new Uint8Array(new SharedArrayBuffer(length));
      await this.reader.readTar(start, buf);
      this.tarHash.update(buf);
      const task = {
        data: buf,
        level: this.level,
        final: i === this.blockCount - 1,
        backend: this.backend.name,
        ...(dictionary ? { dictionary } : {}),
      };
      // the dictionary of the next block must be copied before this block is transferred away
      dictionary = this.backend.usesDictionary ? buf.slice(Math.max(0, buf.length - 32768)) : undefined;
      const op = this.pool.compress(task, stop);
      op.catch(() => {});
      this.compressOps.set(i, op);
      const { size, tarLength } = this.reader.image;
      this.progress.bytesIn = Math.round((size * (start + length)) / tarLength);
      this.wakeConsumer?.();
    }
  }

  /** Takes compressed blocks in order: CRC, gzip framing, then to the encryption thread. */
  private async consume(producer: Promise<void>): Promise<void> {
    const stop = this.internal.signal;
    const cipher = this.cipher!;
    await this.pushBytes(new Uint8Array(GZIP_HEADER));
    for (let i = 0; i < this.blockCount; i++) {
      while (!this.compressOps.has(i)) {
        stop.throwIfAborted();
        await Promise.race([new Promise<void>((r) => (this.wakeConsumer = r)), producer]);
      }
      const result = await this.compressOps.get(i)!;
      this.compressOps.delete(i);
      this.slotsFree++;
      this.wakeProducer?.();
      const length = result.data.length;
      this.crc = i === 0 ? result.crc : crc32Combine(this.crc, result.crc, length);
      this.blocks[result.mode]++;
      if (result.mode === 'stored') {
        // the block itself goes to the encryption thread, which frames it: no copy into a piece
        this.gzipBytes += storedBlocksLength(length);
        await cipher.stored(result.data, i === this.blockCount - 1);
      } else {
        if (length === this.blockSize) this.freeBlocks.push(result.data);
        await this.pushBytes(result.piece);
      }
      this.throttle.update(this.progress);
      stop.throwIfAborted();
    }
  }

  private async pushBytes(bytes: Uint8Array): Promise<void> {
    this.gzipBytes += bytes.length;
    await this.cipher!.bytes(standalone(bytes));
  }

  private async finish(): Promise<BundleResult> {
    const image = this.reader.image;
    await this.pushBytes(gzipTrailer(this.crc, image.tarLength));
    const bundledSize = await this.cipher!.end();
    await this.cipher!.terminate();
    await this.parts.stored();
    const count = this.parts.parts;
    const names = await this.sink.commitParts(count);
    const parts: ManifestPart[] = names.map((filename, index) => ({ index, filename, digest: this.parts.digest(index) }));
    this.progress.stage = 'done';
    this.progress.bytesIn = image.size;
    this.progress.bytesOut = bundledSize;
    this.progress.partsTotal = count;
    this.throttle.flush(this.progress);
    return {
      name: image.name,
      facts: { digest: this.tarHash.digest('hex'), size: image.size, bundledSize, parts },
      secret: this.secret,
      stats: {
        seconds: (performance.now() - this.started) / 1000,
        tarBytes: image.tarLength,
        sparse: image.runs !== undefined,
        ...(image.sparseScan !== undefined ? { sparseScan: image.sparseScan } : {}),
        gzipBytes: this.gzipBytes,
        backend: this.backend.name,
        level: this.level,
        blocks: { ...this.blocks },
      },
    };
  }
}
