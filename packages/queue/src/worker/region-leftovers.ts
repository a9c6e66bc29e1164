import { DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { manifestName } from '@bundlefarm/format';
import { checkKeyPrefix, checkRetryOptions, PREFLIGHT_OBJECT_PREFIX, toS3Error, withRetry, type RetryOptions } from '@bundlefarm/s3';
import type { S3ClientLike } from './region-clients.js';

/**
 * What earlier runs of a bundle leave in a region, and taking it away. S3 cannot rename, so every
 * attempt at a bundle writes the same keys — `PREFIX/NAME.part.K` and `PREFIX/NAME.manifest.xml` — and
 * an attempt that dies (SIGKILL, lost host, lost job lock) leaves what it wrote:
 *
 * - its manifest, when it died after publishing a region but before recording that in the job
 *   (`completedRegions`): the retry does not skip the region, and would overwrite the very parts that
 *   manifest names with parts encrypted under another key — a manifest visible, and registrable, while
 *   its parts are from another attempt. So an attempt withdraws each region's manifest before it
 *   uploads a single part there (`withdrawManifest`); the region has no manifest until the new one is
 *   published, after all of its parts.
 * - parts the new bundle does not name (an earlier attempt or an earlier bundle of the same name had
 *   more parts, or numbered them with another padding), and preflight probes of a run killed between
 *   writing and deleting its probe: removed once the region is published (`removeLeftovers`).
 */
export interface LeftoverTarget {
  region: string;
  bucket: string;
  /** Key prefix as in the job spec ('' or `dir/…`). */
  prefix: string;
}

export interface LeftoverOptions {
  retry?: RetryOptions;
  signal?: AbortSignal;
}

/** Deletes `NAME.manifest.xml` under the target's prefix, if there is one (S3 deletes are idempotent). */
export async function withdrawManifest(client: S3ClientLike, target: LeftoverTarget, bundleName: string, options: LeftoverOptions = {}): Promise<void> {
  const key = checkKeyPrefix(target.prefix) + manifestName(bundleName);
  await deleteKey(client, target, key, options);
}

/**
 * Deletes the keys under the target's prefix that look like parts of `bundleName` (`NAME.part.<digits>`)
 * but are not in `keep`, and every preflight probe there. Resolves with the keys removed. Needs
 * ListBucket; rejects (typed S3 error) when a listing or a delete fails for good.
 */
export async function removeLeftovers(
  client: S3ClientLike,
  target: LeftoverTarget,
  bundleName: string,
  keep: readonly string[],
  options: LeftoverOptions = {},
): Promise<string[]> {
  const prefix = checkKeyPrefix(target.prefix);
  const kept = new Set(keep);
  const part = new RegExp(`^${escapeRegExp(bundleName)}\\.part\\.\\d+$`);
  const probe = new RegExp(`^${escapeRegExp(PREFLIGHT_OBJECT_PREFIX)}[0-9a-f]+$`);
  const [parts, probes] = await Promise.all([
    listKeys(client, target, prefix + bundleName + '.part.', options),
    listKeys(client, target, prefix + PREFLIGHT_OBJECT_PREFIX, options),
  ]);
  const doomed = [
    ...parts.filter((k) => part.test(k.slice(prefix.length)) && !kept.has(k)),
    ...probes.filter((k) => probe.test(k.slice(prefix.length))),
  ];
  // a few keys at most (one bundle's extra parts): one at a time keeps it simple and gentle
  for (const key of doomed) await deleteKey(client, target, key, options);
  return doomed;
}

async function deleteKey(client: S3ClientLike, target: LeftoverTarget, key: string, options: LeftoverOptions): Promise<void> {
  const { bucket, region } = target;
  const signal = options.signal;
  try {
    await withRetry({ policy: checkRetryOptions(options.retry), operation: 'DeleteObject', bucket, key, ...(signal ? { signal } : {}) }, () =>
      client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal }),
    );
  } catch (err) {
    throw toS3Error(err, { bucket, key, region, operation: 'DeleteObject' }, signal);
  }
}

/** Keys directly under `keyPrefix` (no deeper "directories"), every page. */
async function listKeys(client: S3ClientLike, target: LeftoverTarget, keyPrefix: string, options: LeftoverOptions): Promise<string[]> {
  const { bucket, region } = target;
  const signal = options.signal;
  const keys: string[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await withRetry({ policy: checkRetryOptions(options.retry), operation: 'ListObjectsV2', bucket, ...(signal ? { signal } : {}) }, () =>
        client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: keyPrefix, Delimiter: '/', ContinuationToken: token }), { abortSignal: signal }),
      );
      for (const o of page.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  } catch (err) {
    throw toS3Error(err, { bucket, region, operation: 'ListObjectsV2' }, signal);
  }
  return keys;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
