/*
 * Builds an ext4 filesystem image — or a whole-disk image with an MBR or GPT partition table — from a
 * root tree or a rootfs tarball, without root and without mounting, in a scratch directory that is
 * removed afterwards however the build ends:
 *
 *   1. (tree) scan: sizes, counts and what the exclusion policy leaves out — reported before any work;
 *   2. mke2fs an empty filesystem of the asked size, or of the 10 GiB ceiling (a sparse file);
 *   3. debugfs writes every entry (content, owner, mode, times, xattrs, links, devices);
 *   4. without -s: resize2fs shrinks it to the content plus headroom; tune2fs adds the journal;
 *   5. e2fsck -fn must find it clean;
 *   6. mbr/gpt: room for the table is inserted in front and sfdisk writes it.
 *
 * `withRootfsImage` hands the finished image to a callback (to bundle it) and then deletes it.
 */
import { randomUUID } from 'node:crypto';
import { realpath, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { InvalidOptionError } from '@bundlefarm/errors';
import { MAX_IMAGE_SIZE } from '@bundlefarm/format';
import { DebugfsSession } from './debugfs-session.js';
import { addJournal, checkFilesystem, makeFilesystem, shrinkToFit } from './e2fs-tools.js';
import { ExclusionPolicy, ExclusionReport, type ExclusionClassId, type ExclusionSummary } from './exclusion-policy.js';
import { Ext4Populator } from './ext4-populator.js';
import { generatedFstab } from './fstab.js';
import { partitionImage, partitionOverhead, type PartitionScheme } from './partition-table.js';
import { FilesystemFullError, ScratchLimitError, TreeUnreadableError } from './rootfs-errors.js';
import { bytePath, type RootfsEntry } from './rootfs-entry.js';
import { assertFreeSpace, createScratch, removeStaleScratch } from './scratch-space.js';
import { TarballSource } from './tarball-source.js';
import { openTarball } from './tarball-input.js';
import { requireTools } from './tools.js';
import { readTree, scanTree, type OwnerMapping } from './tree-source.js';

export type RootfsSource = { tree: string } | { tarball: string; stdin?: Readable };

export interface RootfsProgress {
  phase: 'scanning' | 'writing' | 'finishing';
  entries: number;
  /** Bytes of regular files written so far. */
  fileBytes: number;
  /** Share of the work done in this phase (0–1), when known. */
  fraction?: number;
}

export interface BuildRootfsOptions {
  source: RootfsSource;
  /** Where the image is built (a subdirectory is created and removed; default: the OS temp dir). */
  scratchDir: string;
  /** Size of the image in bytes (whole disk with a partition table); default: content plus headroom. */
  size?: number;
  /** Default 'none' (a bare filesystem, for paravirtual AMIs). */
  partition?: PartitionScheme;
  label?: string;
  /** Filesystem UUID (default: random). */
  uuid?: string;
  /** Extra mke2fs -O features, e.g. "^metadata_csum,^64bit" for old kernels. */
  fsFeatures?: string;
  /** -e: paths in the image (a tree's absolute host paths under the volume are accepted too). */
  excludes?: readonly string[];
  /** -i: excluded paths to bring back. */
  includes?: readonly string[];
  /** Leave out sensitive files (default true). */
  filter?: boolean;
  /** Trees: include remote filesystems mounted in the tree. */
  allFilesystems?: boolean;
  /** Trees: host paths left out wherever they are inside the volume (destination, key files). */
  hostExcludes?: ReadonlyArray<{ path: string; cls: ExclusionClassId }>;
  /** Trees: owners in the image other than the tree's own. */
  owners?: OwnerMapping;
  /** Replace /etc/fstab: with a file's content, or with a generated one. */
  fstab?: { file: string } | 'generate';
  /** Bytes of tarball file contents staged at once (default 256 MiB; with `scratchLimit`, at most an eighth of it). */
  stageWindow?: number;
  /**
   * Most bytes the build may use in `scratchDir` (a service's bounded scratch space; default: no limit
   * but the 10 GiB an image may have). The filesystem is made no larger than this less the stage
   * window; a larger explicit size, or a tree whose files need more, is refused before anything is
   * written, and a tarball as soon as its staged content passes it (ScratchLimitError). A partitioned
   * image on a scratch filesystem that cannot insert ranges (tmpfs) is copied once: twice the space then.
   */
  scratchLimit?: number;
  signal?: AbortSignal;
  onProgress?: (progress: RootfsProgress) => void;
  /** What is left out, by class: for trees before the image is written, for tarballs after. */
  onExclusions?: (summary: ExclusionSummary[]) => void;
  onNote?: (note: string) => void;
}

export interface BuiltRootfs {
  /** The image file (deleted after the callback returns). */
  path: string;
  size: number;
  partition: PartitionScheme;
  /** Where the filesystem starts in the image, and its size. */
  fsOffset: number;
  fsSize: number;
  uuid: string;
  label?: string;
  entries: number;
  files: number;
  fileBytes: number;
  excluded: ExclusionSummary[];
}

/** Smallest image accepted with an explicit size. */
export const MIN_IMAGE_SIZE = 16 * 1024 * 1024;

/** Headroom left free in an image sized automatically: a quarter of the content, at least 512 MiB. */
export function defaultHeadroom(usedBytes: number): number {
  return Math.max(512 * 1024 * 1024, Math.ceil(usedBytes / 4));
}

const DEV_NODES: ReadonlyArray<[string, number, number, number]> = [
  ['console', 5, 1, 0o600],
  ['null', 1, 3, 0o666],
  ['zero', 1, 5, 0o666],
  ['tty', 5, 0, 0o666],
];

export async function withRootfsImage<T>(options: BuildRootfsOptions, use: (image: BuiltRootfs) => Promise<T>): Promise<T> {
  const partition = options.partition ?? 'none';
  const { head, tail } = partitionOverhead(partition);
  if (options.size !== undefined) {
    if (!Number.isSafeInteger(options.size) || options.size % (1 << 20) !== 0) throw new InvalidOptionError('size', `${options.size} bytes is not a whole number of MiB`);
    if (options.size > MAX_IMAGE_SIZE) throw new InvalidOptionError('size', `${options.size / (1 << 20)} MiB is more than the 10240 MiB an image may have`);
    if (options.size < MIN_IMAGE_SIZE) throw new InvalidOptionError('size', `${options.size / (1 << 20)} MiB is less than ${MIN_IMAGE_SIZE / (1 << 20)} MiB`);
  }
  const limit = scratchBudget(options, head + tail);
  if (limit && options.size !== undefined && options.size > limit.imageBytes) {
    throw new ScratchLimitError(`an image of ${options.size / (1 << 20)} MiB`, limit.total);
  }
  const tree = 'tree' in options.source;
  requireTools([
    'mke2fs', 'debugfs', 'e2fsck', 'resize2fs', 'tune2fs', 'dumpe2fs', 'stdbuf',
    ...(tree ? ['getfattr'] : []),
    ...(partition !== 'none' ? ['sfdisk'] : []),
  ]);
  await removeStaleScratch(options.scratchDir);
  const scratch = await createScratch(options.scratchDir);
  try {
    const built = await build(options, scratch.dir, partition, head, tail, limit);
    return await use(built);
  } finally {
    await scratch.remove();
  }
}

/** What a scratch limit leaves for the image (whole disk) and for staged tarball content. */
interface ScratchBudget {
  total: number;
  /** Largest image (with its partition table) the build may make. */
  imageBytes: number;
  stageWindow: number;
}

function scratchBudget(options: BuildRootfsOptions, overhead: number): ScratchBudget | undefined {
  const total = options.scratchLimit;
  if (total === undefined) return undefined;
  if (!Number.isSafeInteger(total) || total <= 0) throw new InvalidOptionError('scratchLimit', `${total} is not a positive number of bytes`);
  const stageWindow = options.stageWindow ?? Math.min(256 * 1024 * 1024, Math.floor(total / 8));
  // whole MiB, as an explicit size is; never below the smallest image (refused then, with its size named)
  const imageBytes = Math.floor((total - ('tarball' in options.source ? stageWindow : 0)) / (1 << 20)) * (1 << 20);
  if (imageBytes - overhead < MIN_IMAGE_SIZE) throw new ScratchLimitError('even the smallest image', total);
  return { total, imageBytes, stageWindow };
}

async function build(
  options: BuildRootfsOptions,
  dir: string,
  partition: PartitionScheme,
  head: number,
  tail: number,
  limit: ScratchBudget | undefined,
): Promise<BuiltRootfs> {
  const signal = options.signal;
  const uuid = options.uuid ?? randomUUID();
  const report = new ExclusionReport();
  const skip = new Set<string>(options.fstab ? ['etc/fstab'] : []);
  const wanted = options.size ?? MAX_IMAGE_SIZE;
  // the scratch limit, not the image's own size, is what caps the filesystem
  const capped = limit !== undefined && limit.imageBytes < wanted;
  const fsCeiling = (capped ? limit.imageBytes : wanted) - head - tail;
  const progress = throttle(options.onProgress);
  let source: AsyncIterable<RootfsEntry>;
  let tarball: TarballSource | undefined;
  let finishInput: ((aborted: boolean) => Promise<void>) | undefined;
  let fraction: () => number | undefined = () => undefined;
  let totalFileBytes = 0;

  if ('tree' in options.source) {
    const tree = options.source.tree;
    const root = (await realpath(tree).catch((err: unknown) => {
      throw new TreeUnreadableError(tree, err);
    })).replace(/\/+$/, '') || '/';
    const inVolume = (p: string): string => {
      const abs = p.startsWith('/') ? p : '/' + p;
      return root !== '/' && (abs === root || abs.startsWith(root + '/')) ? abs.slice(root.length) : abs;
    };
    const extra: Array<{ path: string; cls: ExclusionClassId }> = [];
    for (const e of [{ path: dir, cls: 'destination' as ExclusionClassId }, ...(options.hostExcludes ?? [])]) {
      const rel = relative(root, await realpath(e.path).catch(() => e.path));
      if (rel !== '' && rel !== '..' && !rel.startsWith('..' + sep) && !rel.startsWith(sep)) extra.push({ path: bytePath(rel), cls: e.cls });
    }
    const policy = new ExclusionPolicy({
      excludes: (options.excludes ?? []).map((p) => bytePath(inVolume(p))),
      includes: (options.includes ?? []).map((p) => bytePath(inVolume(p))),
      ...(options.filter !== undefined ? { filter: options.filter } : {}),
      extra,
    });
    const treeOptions = {
      root,
      policy,
      skip,
      ...(options.allFilesystems ? { allFilesystems: true } : {}),
      ...(options.owners ? { owners: options.owners } : {}),
      ...(options.onNote ? { onNote: options.onNote } : {}),
    };
    progress({ phase: 'scanning', entries: 0, fileBytes: 0 }, true);
    const scan = await scanTree({ ...treeOptions, report });
    options.onExclusions?.(report.summary());
    if (capped && scan.allocatedBytes > fsCeiling) throw new ScratchLimitError(`the tree holds ${scan.allocatedBytes} bytes of files`, limit.total);
    if (scan.allocatedBytes > fsCeiling) {
      throw new FilesystemFullError(
        `the tree holds ${scan.allocatedBytes} bytes of files, more than the ${fsCeiling}-byte filesystem ${options.size ? 'asked for with -s' : 'an image may have (10 GiB)'}`,
      );
    }
    await assertFreeSpace(dir, Math.ceil(scan.allocatedBytes * 1.1) + 128 * 1024 * 1024);
    totalFileBytes = scan.fileBytes;
    source = readTree({ ...treeOptions, report: new ExclusionReport() });
  } else {
    const input = await openTarball(options.source.tarball, options.source.stdin);
    finishInput = (aborted) => input.finish(aborted);
    if (input.fileSize !== undefined && input.compression === 'none') await assertFreeSpace(dir, Math.min(input.fileSize, fsCeiling));
    if (input.fileSize) fraction = () => input.bytesRead() / input.fileSize!;
    const policy = new ExclusionPolicy({
      excludes: (options.excludes ?? []).map(bytePath),
      includes: (options.includes ?? []).map(bytePath),
      ...(options.filter !== undefined ? { filter: options.filter } : {}),
    });
    tarball = new TarballSource({
      stream: input.stream,
      policy,
      stageDir: join(dir, 'stage'),
      report,
      skip,
      ...(options.stageWindow !== undefined ? { stageWindow: options.stageWindow } : limit ? { stageWindow: limit.stageWindow } : {}),
      ...(options.onNote ? { onNote: options.onNote } : {}),
      ...(capped
        ? { maxContentBytes: { bytes: fsCeiling, tooMuch: (n: number) => new ScratchLimitError(`the tarball holds more than ${n - 1} bytes of file data`, limit.total) } }
        : {}),
    });
    source = tarball.entries();
  }

  const image = join(dir, 'image.img');
  await makeFilesystem(image, fsCeiling, { uuid, ...(options.label ? { label: options.label } : {}), ...(options.fsFeatures ? { features: options.fsFeatures } : {}) }, signal);
  const session = new DebugfsSession(image, signal);
  const populator = new Ext4Populator(session);
  try {
    for await (const entry of source) {
      await populator.add(entry);
      const f = totalFileBytes > 0 ? populator.stats.fileBytes / totalFileBytes : fraction();
      progress({ phase: 'writing', entries: populator.stats.entries, fileBytes: populator.stats.fileBytes, ...(f !== undefined ? { fraction: Math.min(1, f) } : {}) });
    }
    await finishInput?.(false);
    for (const x of tarball?.deferredXattrs() ?? []) await populator.setXattr(x.path, x.name, x.value);
    await addGenerated(populator, options, uuid, dir);
    await populator.finish();
    await session.close();
  } catch (err) {
    await session.abort();
    await finishInput?.(true).catch(() => {});
    throw err;
  }
  if (tarball) options.onExclusions?.(report.summary());
  progress({ phase: 'finishing', entries: populator.stats.entries, fileBytes: populator.stats.fileBytes }, true);
  let fsSize = fsCeiling;
  if (options.size === undefined) fsSize = await shrinkToFit(image, fsCeiling, defaultHeadroom, signal);
  await addJournal(image, signal);
  await checkFilesystem(image, signal);
  const size = partition === 'none' ? fsSize : await partitionImage(image, fsSize, partition, signal);
  return {
    path: image,
    size,
    partition,
    fsOffset: head,
    fsSize,
    uuid,
    ...(options.label ? { label: options.label } : {}),
    entries: populator.stats.entries,
    files: populator.stats.files,
    fileBytes: populator.stats.fileBytes,
    excluded: report.summary(),
  };
}

/** /dev's minimal nodes (as ec2-bundle-vol makes them) and a replaced /etc/fstab. */
async function addGenerated(populator: Ext4Populator, options: BuildRootfsOptions, uuid: string, dir: string): Promise<void> {
  const now = { sec: Math.floor(Date.now() / 1000), nsec: 0 };
  if (populator.has('dev')) {
    for (const [name, major, minor, mode] of DEV_NODES) {
      if (populator.has(`dev/${name}`)) continue;
      await populator.add({ path: `dev/${name}`, type: 'char', mode, uid: 0, gid: 0, mtime: now, xattrs: [], size: 0, major, minor });
    }
  }
  if (options.fstab) {
    const { readFile } = await import('node:fs/promises');
    const text = options.fstab === 'generate' ? Buffer.from(generatedFstab(uuid)) : await readFile(options.fstab.file);
    const staged = join(dir, 'fstab');
    await writeFile(staged, text);
    await populator.add({
      path: 'etc/fstab',
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtime: now,
      xattrs: [],
      size: text.length,
      content: { path: staged, modeMatches: false, release: async () => {} },
    });
  }
}

function throttle(fn: ((p: RootfsProgress) => void) | undefined): (p: RootfsProgress, force?: boolean) => void {
  let last = 0;
  return (p, force = false) => {
    if (!fn) return;
    const now = performance.now();
    if (!force && now - last < 200) return;
    last = now;
    fn(p);
  };
}
