import { DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { PREFLIGHT_OBJECT_PREFIX } from './preflight.js';
import { objectOwnership } from './published-bundle.js';
import { checkRetryOptions, withRetry, type RetryOptions } from './retry.js';
import { toS3Error } from './s3-error-mapping.js';
import { checkKeyPrefix } from './s3-url.js';

type S3ClientLike = S3Client;

/**
 * What earlier runs of a bundle leave in a region, and taking away what is this job's to take. S3 cannot
 * rename, so every attempt at a bundle writes the same keys — `PREFIX/NAME.part.K` and
 * `PREFIX/NAME.manifest.xml` — and an attempt that dies (SIGKILL, lost host, lost job lock) leaves what
 * it wrote:
 *
 * - its manifest, when it died after publishing a region but before recording that in the job
 *   (`completedRegions`): the retry does not skip the region, and would overwrite the very parts that
 *   manifest names with parts encrypted under another key. The sink withdraws it just before it writes
 *   the region's first part (it carries this job's id: the job's own to replace; see S3PartSink), so the
 *   region has no manifest until the new one is published, after all of its parts.
 * - parts the new bundle does not name (an earlier attempt had more parts, or numbered them with another
 *   padding), and preflight probes of a run killed between writing and deleting its probe: removed once
 *   the region is published (`removeLeftovers`).
 *
 * Only objects that are the job's to remove are removed: those carrying its own id
 * (`x-amz-meta-bundlefarm-job`, written on every object a job writes), and the parts of a bundle it was
 * asked to replace (`replace: true`), as that bundle's manifest named them. A key that merely looks like a
 * part — another job's, another tool's, a human's — is left where it is.
 */
export interface LeftoverTarget {
  region: string;
  bucket: string;
  /** Key prefix as in the job spec ('' or `dir/…`). */
  prefix: string;
}

export interface LeftoverOptions {
  /** The job's mark (see jobOwner): objects carrying it are its own. */
  owner: string;
  /** Keys of the parts of a bundle this job replaced (its manifest named them): removed too. */
  replacedParts?: readonly string[];
  retry?: RetryOptions;
  signal?: AbortSignal;
}

export interface LeftoverOutcome {
  /** Keys removed. */
  removed: string[];
  /** Keys that look like leftovers but are not the job's (another writer's): left in place. */
  foreign: string[];
}

/**
 * Deletes, under the target's prefix, the keys that look like parts of `bundleName` (`NAME.part.<digits>`)
 * but are not in `keep`, and preflight probes — each only if it is the job's to remove (see above).
 * Needs ListBucket; rejects (typed S3 error) when a listing, a look or a delete fails for good.
 */
export async function removeLeftovers(
  client: S3ClientLike,
  target: LeftoverTarget,
  bundleName: string,
  keep: readonly string[],
  options: LeftoverOptions,
): Promise<LeftoverOutcome> {
  const prefix = checkKeyPrefix(target.prefix);
  const kept = new Set(keep);
  const replaced = new Set(options.replacedParts ?? []);
  const part = new RegExp(`^${escapeRegExp(bundleName)}\\.part\\.\\d+$`);
  const probe = new RegExp(`^${escapeRegExp(PREFLIGHT_OBJECT_PREFIX)}[0-9a-f]+$`);
  const [parts, probes] = await Promise.all([
    listKeys(client, target, prefix + bundleName + '.part.', options),
    listKeys(client, target, prefix + PREFLIGHT_OBJECT_PREFIX, options),
  ]);
  const candidates = [...parts.filter((k) => part.test(k.slice(prefix.length)) && !kept.has(k)), ...probes.filter((k) => probe.test(k.slice(prefix.length)))];
  const out: LeftoverOutcome = { removed: [], foreign: [] };
  // a few keys at most (one bundle's extra parts): one at a time keeps it simple and gentle
  for (const key of candidates) {
    if (!replaced.has(key)) {
      const found = await objectOwnership(client, target, key, { ...(options.retry ? { retry: options.retry } : {}), ...(options.signal ? { signal: options.signal } : {}) });
      if (!found.exists) continue;
      if (found.owner !== options.owner) {
        out.foreign.push(key);
        continue;
      }
    }
    await deleteKey(client, target, key, options);
    out.removed.push(key);
  }
  return out;
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
