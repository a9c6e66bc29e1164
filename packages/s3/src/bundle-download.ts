/*
 * ec2-download-bundle: `s3://bucket/prefix/NAME.manifest.xml` and the parts it lists into a directory.
 * The manifest is parsed (strictly: hostile input) before anything else is fetched; each part's SHA-1 is
 * checked against the manifest as it arrives, before it is written, and a mismatch fails naming the part
 * (PartTamperedError). Parts land under a temporary name and are renamed into place once whole; the
 * manifest is written last, so a directory holding the manifest holds the whole verified bundle.
 * Parts come down in parallel (bounded).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { FileUnwritableError, PartTamperedError } from '@bundlefarm/errors';
import { manifestName, parseManifest, type ManifestPart, type ParsedManifest } from '@bundlefarm/format';
import type { TransferProgress } from './bundle-upload.js';
import { checkConcurrency, UPLOAD_DEFAULTS } from './bundle-upload.js';
import { eachLimited } from './each-limited.js';
import type { RetryOptions } from './retry.js';
import { S3PartSource } from './s3-part-source.js';

export interface DownloadBundleOptions {
  client: S3Client;
  bucket: string;
  prefix: string;
  /** Bundle name: the manifest is NAME.manifest.xml. */
  name: string;
  /** Directory to write into (created if missing). */
  directory: string;
  retry?: RetryOptions;
  /** Parts fetched at once, 1–32 (default 4). */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (p: TransferProgress) => void;
}

export interface DownloadBundleResult {
  manifestPath: string;
  manifest: ParsedManifest;
  parts: number;
  bytes: number;
}

export async function downloadBundle(o: DownloadBundleOptions): Promise<DownloadBundleResult> {
  const concurrency = checkConcurrency(o.concurrency ?? UPLOAD_DEFAULTS.concurrency);
  const source = new S3PartSource({
    client: o.client,
    bucket: o.bucket,
    prefix: o.prefix,
    ...(o.retry ? { retry: o.retry } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const manifestFile = manifestName(o.name);
  const manifest = parseManifest(await source.readManifest(manifestFile));
  try {
    await mkdir(o.directory, { recursive: true });
  } catch (err) {
    throw new FileUnwritableError(o.directory, err);
  }
  const parts = [...manifest.manifest.image.parts].sort((a, b) => a.index - b.index);
  const progress: TransferProgress = { partsDone: 0, partsTotal: parts.length, bytesDone: 0, partsSkipped: 0 };
  await eachLimited(parts, concurrency, async (part) => {
    const data = await fetchVerified(source, part, o.signal);
    await writeWhole(join(o.directory, part.filename), data);
    progress.partsDone++;
    progress.bytesDone += data.length;
    o.onProgress?.({ ...progress });
  });
  const manifestPath = join(o.directory, manifestFile);
  await writeWhole(manifestPath, Buffer.from(manifest.xml, 'utf8'));
  return { manifestPath, manifest, parts: parts.length, bytes: progress.bytesDone };
}

/** One part, through the engine's reader (missing → PartMissingError, SHA-1 mismatch → PartTamperedError). */
async function fetchVerified(source: S3PartSource, part: ManifestPart, signal: AbortSignal | undefined): Promise<Buffer> {
  // loaded when a download runs: the API imports @bundlefarm/s3 and never loads the engine
  const { readVerifiedParts } = await import('@bundlefarm/engine');
  for await (const { data } of readVerifiedParts([part], source, signal)) return data;
  /* c8 ignore next */
  throw new PartTamperedError(part.index, part.filename, part.digest, 'nothing read');
}

async function writeWhole(path: string, data: Buffer): Promise<void> {
  const temporary = `${path}.${randomBytes(4).toString('hex')}.partial`;
  try {
    await writeFile(temporary, data, { flag: 'wx' });
    await rename(temporary, path);
  } catch (err) {
    await rm(temporary, { force: true }).catch(() => {});
    throw new FileUnwritableError(path, err);
  }
}

