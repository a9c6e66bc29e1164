/*
 * ec2-upload-bundle: a bundle on disk (a manifest and the parts it lists, in one directory) into
 * `s3://bucket/prefix`. Parts go up in parallel (bounded), each with Content-MD5 and the bundle's canned
 * ACL; the manifest goes last, once every part it names is in place, so no manifest ever names a
 * missing part.
 *
 * Resumable: before a part is sent, HeadObject looks at its key; an object there with the part's size
 * and its MD5 as ETag is the part already — not sent again, only given the ACL again (PutObjectAcl), and
 * counted as skipped. Re-running after a broken connection so sends only what is missing.
 *
 * Every local part is checked against the manifest's SHA-1 as it is read: a damaged file never becomes
 * a published part. A manifest of another bundle already at the target under the same name (other
 * parts, not just signed or wrapped anew) is refused with BundleExistsError unless `replace`:
 * overwriting its parts one by one would leave it naming a mix of two bundles. With `replace` it is
 * deleted first, then the upload runs (see makeRoomForManifest).
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { FileUnreadableError, InvalidOptionError, PartMissingError, PartTamperedError } from '@bundlefarm/errors';
import { isPlainFileName, MAX_PART_BYTES, readBoundedFile, type ManifestPart, type ParsedManifest } from '@bundlefarm/format';
import { checkBundleAcl, type S3BundleAcl } from './bundle-acl.js';
import { makeRoomForManifest, putAcl, putManifest, putObject, stateOptions } from './bundle-requests.js';
import { eachLimited } from './each-limited.js';
import { md5Hex, objectMatches, objectState } from './object-state.js';
import { checkRetryOptions, type RetryOptions } from './retry.js';
import { checkBucketName, checkKeyPrefix, formatS3Url } from './s3-url.js';

export interface UploadBundleOptions {
  client: S3Client;
  /** The bucket's region, for messages. */
  region?: string;
  bucket: string;
  /** Key prefix ('' or `dir/…`). */
  prefix: string;
  /** The manifest (parsed from `manifestFile`). */
  manifest: ParsedManifest;
  /** The manifest's file name: its key at the target (after the prefix). */
  manifestFile: string;
  /** Directory holding the parts. */
  directory: string;
  /** Canned ACL of every object (default aws-exec-read). */
  acl?: S3BundleAcl;
  /** Retries of every request on top of the SDK's (default 5 tries). */
  retry?: RetryOptions;
  /** Parts uploaded at once, 1–32 (default 4). */
  concurrency?: number;
  /** Leave the manifest out (ec2-upload-bundle --skipmanifest). */
  skipManifest?: boolean;
  /** Upload from this part index on (ec2-upload-bundle --part; default 0). */
  fromPart?: number;
  /** Replace another bundle's manifest of the same name (default false: BundleExistsError). */
  replace?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: TransferProgress) => void;
}

/** Progress of a transfer of parts (upload, download, copy). */
export interface TransferProgress {
  partsDone: number;
  partsTotal: number;
  /** Bytes of the parts done (sent or found in place). */
  bytesDone: number;
  partsSkipped: number;
}

export interface UploadBundleResult {
  /** s3:// URL of the manifest (undefined with skipManifest). */
  manifest: string | undefined;
  /** Keys sent. */
  uploaded: string[];
  /** Keys found already in place (same size and MD5), not sent again. */
  skipped: string[];
  /** Bytes of parts sent. */
  bytesSent: number;
  /** A different manifest of the same name was deleted first (replace). */
  replacedManifest: boolean;
}

export const UPLOAD_DEFAULTS = { concurrency: 4 } as const;

export async function uploadBundle(o: UploadBundleOptions): Promise<UploadBundleResult> {
  const bucket = checkBucketName(o.bucket);
  const prefix = checkKeyPrefix(o.prefix);
  const acl = checkBundleAcl(o.acl);
  const retry = checkRetryOptions(o.retry);
  const concurrency = checkConcurrency(o.concurrency ?? UPLOAD_DEFAULTS.concurrency);
  if (!isPlainFileName(o.manifestFile)) throw new InvalidOptionError('manifest file name', `${JSON.stringify(o.manifestFile)} is not a plain file name`);
  const parts = [...o.manifest.manifest.image.parts].sort((a, b) => a.index - b.index);
  const fromPart = o.fromPart ?? 0;
  if (!Number.isInteger(fromPart) || fromPart < 0 || fromPart >= parts.length) {
    throw new InvalidOptionError('--part', `${String(fromPart)} is not a part index of this bundle (0 to ${parts.length - 1})`);
  }
  const todo = parts.slice(fromPart);
  const ctx = { client: o.client, bucket, region: o.region, acl, retry, signal: o.signal };
  const manifestKey = prefix + o.manifestFile;
  const manifestBody = Buffer.from(o.manifest.xml, 'utf8');

  const room = await makeRoomForManifest(ctx, manifestKey, o.manifest, o.replace ?? false);

  const progress: TransferProgress = { partsDone: 0, partsTotal: todo.length, bytesDone: 0, partsSkipped: 0 };
  const uploaded: string[] = [];
  const skipped: string[] = [];
  let bytesSent = 0;
  await eachLimited(todo, concurrency, async (part) => {
    const data = await readLocalPart(o.directory, part);
    const key = prefix + part.filename;
    const md5 = md5Hex(data);
    if (objectMatches(await objectState(o.client, bucket, key, stateOptions(ctx)), data, md5)) {
      await putAcl(ctx, key);
      skipped.push(key);
      progress.partsSkipped++;
    } else {
      await putObject(ctx, key, data, md5);
      uploaded.push(key);
      bytesSent += data.length;
    }
    progress.partsDone++;
    progress.bytesDone += data.length;
    o.onProgress?.({ ...progress });
  });

  let manifest: string | undefined;
  if (!o.skipManifest) {
    await putManifest(ctx, manifestKey, manifestBody, room.alreadyThere);
    manifest = formatS3Url(bucket, manifestKey);
  }
  return { manifest, uploaded: uploaded.sort(), skipped: skipped.sort(), bytesSent, replacedManifest: room.replaced };
}

export function checkConcurrency(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 32) throw new InvalidOptionError('concurrency', `${String(n)} is not a whole number from 1 to 32`);
  return n;
}

/** A part file from the bundle's directory, after its SHA-1 matched the manifest. */
export async function readLocalPart(directory: string, part: ManifestPart): Promise<Buffer> {
  const path = join(directory, part.filename);
  try {
    await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new PartMissingError(part.index, path, { cause: err });
    throw new FileUnreadableError(path, err);
  }
  const { data, complete } = await readBoundedFile(path, MAX_PART_BYTES);
  const actual = createHash('sha1').update(data).digest('hex');
  if (!complete || actual !== part.digest.toLowerCase()) throw new PartTamperedError(part.index, path, part.digest, complete ? actual : `(over ${MAX_PART_BYTES} bytes)`);
  return data;
}
