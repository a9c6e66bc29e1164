/*
 * ec2-delete-bundle: removes exactly one bundle from `s3://bucket/prefix` — its manifest and the parts that
 * manifest lists, nothing else under the prefix (other bundles, foreign objects stay): a manifest naming a "part" that is
 * not called NAME.part.K after the bundle is refused, so a crafted manifest cannot get other objects deleted. The manifest goes
 * first: from then on the bundle is no longer published (EC2 registers only from a manifest), so a failure
 * half-way leaves orphaned parts at worst, never a manifest naming missing parts. `dryRun` deletes nothing
 * and says, for each key, whether it is there.
 */
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { InvalidOptionError, ManifestMalformedError } from '@bundlefarm/errors';
import { isPlainFileName, type BundleManifest } from '@bundlefarm/format';
import { checkConcurrency } from './bundle-upload.js';
import { eachLimited } from './each-limited.js';
import { objectState } from './object-state.js';
import { checkRetryOptions, withRetry, type RetryOptions } from './retry.js';
import { toS3Error } from './s3-error-mapping.js';
import { checkBucketName, checkKeyPrefix } from './s3-url.js';

export interface DeleteBundleOptions {
  client: S3Client;
  region?: string;
  bucket: string;
  prefix: string;
  /** The bundle's manifest (read from the bucket or a local copy): which parts are the bundle's. */
  manifest: BundleManifest;
  /** The manifest's file name under the prefix. */
  manifestFile: string;
  /** List what would be deleted, delete nothing. */
  dryRun?: boolean;
  retry?: RetryOptions;
  /** Deletes at once, 1–32 (default 8). */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export interface DeleteBundleResult {
  /** Every key of the bundle, manifest first. */
  keys: string[];
  /** With dryRun: the keys that are there now (what a real run would delete). */
  present?: string[];
  /** Keys deleted (all of `keys` unless dryRun). */
  deleted: string[];
}

/** The keys of a bundle: its manifest first, then its parts in index order. */
export function bundleKeys(prefix: string, manifestFile: string, manifest: BundleManifest): string[] {
  if (!isPlainFileName(manifestFile)) throw new InvalidOptionError('manifest file name', `${JSON.stringify(manifestFile)} is not a plain file name`);
  const p = checkKeyPrefix(prefix);
  // A manifest is input like any other: one listing `other.manifest.xml` or someone's `notes.txt` as a
  // "part" must not get them deleted. Every bundler names parts NAME.part.K after the bundle.
  const names = new Set([manifestFile.replace(/\.manifest\.xml$/, ''), manifest.image.name]);
  for (const part of manifest.image.parts) {
    const m = /^(.+)\.part\.\d+$/.exec(part.filename);
    if (!m || !names.has(m[1]!)) {
      throw new ManifestMalformedError(
        `part ${part.index} is named ${JSON.stringify(part.filename)}, not ${[...names].map((n) => `${n}.part.N`).join(' or ')}; delete-bundle deletes only a bundle's own parts`,
      );
    }
  }
  return [p + manifestFile, ...[...manifest.image.parts].sort((a, b) => a.index - b.index).map((part) => p + part.filename)];
}

export async function deleteBundle(o: DeleteBundleOptions): Promise<DeleteBundleResult> {
  const bucket = checkBucketName(o.bucket);
  const keys = bundleKeys(o.prefix, o.manifestFile, o.manifest);
  const retry = checkRetryOptions(o.retry);
  const concurrency = checkConcurrency(o.concurrency ?? 8);
  const { signal, region } = o;
  if (o.dryRun) {
    const present: string[] = [];
    await eachLimited(keys, concurrency, async (key) => {
      const state = await objectState(o.client, bucket, key, { retry, ...(signal ? { signal } : {}), ...(region !== undefined ? { region } : {}) });
      if (state.exists) present.push(key);
    });
    return { keys, present: keys.filter((k) => present.includes(k)), deleted: [] };
  }
  const deleted: string[] = [];
  let done = 0;
  const remove = async (key: string): Promise<void> => {
    try {
      await withRetry({ policy: retry, operation: 'DeleteObject', bucket, key, ...(signal ? { signal } : {}) }, () =>
        o.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal }),
      );
    } catch (err) {
      throw toS3Error(err, { bucket, key, operation: 'DeleteObject', ...(region !== undefined ? { region } : {}) }, signal);
    }
    deleted.push(key);
    o.onProgress?.(++done, keys.length);
  };
  await remove(keys[0]!);
  await eachLimited(keys.slice(1), concurrency, remove);
  return { keys, deleted: keys.filter((k) => deleted.includes(k)) };
}
