/*
 * ec2-migrate-bundle's transfer: a bundle's parts copied server-side (CopyObject, with the bundle's ACL)
 * from one bucket to another — typically in another region — then the migrated manifest written last.
 * No part's bytes pass through this machine.
 *
 * Resumable like an upload: a part already at the target with the source's size and ETag is not copied
 * again (only given the ACL). A copy's ETag must equal its source's, or the copy is refused. A missing
 * source part fails (PartMissingError) before the manifest is written: the target never gets a manifest
 * naming a part it does not hold.
 */
import { CopyObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { InvalidOptionError, PartMissingError } from '@bundlefarm/errors';
import { isPlainFileName, parseManifest, type ManifestPart } from '@bundlefarm/format';
import { checkBundleAcl, sdkAcl, type S3BundleAcl } from './bundle-acl.js';
import { makeRoomForManifest, putAcl, putManifest, send, stateOptions, type SendContext } from './bundle-requests.js';
import { checkConcurrency, UPLOAD_DEFAULTS, type TransferProgress } from './bundle-upload.js';
import { eachLimited } from './each-limited.js';
import { objectState } from './object-state.js';
import { checkRetryOptions, type RetryOptions } from './retry.js';
import { checkBucketName, checkKeyPrefix, formatS3Url } from './s3-url.js';

export interface CopyBundleOptions {
  /** Client of the source bucket's region (HeadObject of the source parts). */
  sourceClient: S3Client;
  sourceBucket: string;
  sourcePrefix: string;
  /** Client of the target bucket's region: CopyObject is sent to the target. */
  targetClient: S3Client;
  targetRegion?: string;
  targetBucket: string;
  targetPrefix: string;
  /** The parts to copy (the manifest's). */
  parts: readonly ManifestPart[];
  /** File name and text of the manifest to write at the target. */
  manifestFile: string;
  manifestXml: string;
  acl?: S3BundleAcl;
  retry?: RetryOptions;
  concurrency?: number;
  /** Replace another bundle's manifest of the same name at the target (default false). */
  replace?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: TransferProgress) => void;
}

export interface CopyBundleResult {
  manifest: string;
  copied: string[];
  skipped: string[];
}

export async function copyBundle(o: CopyBundleOptions): Promise<CopyBundleResult> {
  const sourceBucket = checkBucketName(o.sourceBucket);
  const sourcePrefix = checkKeyPrefix(o.sourcePrefix);
  const bucket = checkBucketName(o.targetBucket);
  const prefix = checkKeyPrefix(o.targetPrefix);
  const acl = checkBundleAcl(o.acl);
  const retry = checkRetryOptions(o.retry);
  const concurrency = checkConcurrency(o.concurrency ?? UPLOAD_DEFAULTS.concurrency);
  if (!isPlainFileName(o.manifestFile)) throw new InvalidOptionError('manifest file name', `${JSON.stringify(o.manifestFile)} is not a plain file name`);
  if (sourceBucket === bucket && sourcePrefix === prefix) {
    throw new InvalidOptionError('destination', `s3://${bucket}/${prefix} is where the bundle is already; give another bucket or prefix`);
  }
  const ctx: SendContext = { client: o.targetClient, bucket, region: o.targetRegion, acl, retry, signal: o.signal };
  const sourceCtx: SendContext = { ...ctx, client: o.sourceClient, bucket: sourceBucket, region: undefined };
  const manifestKey = prefix + o.manifestFile;
  const manifestBody = Buffer.from(o.manifestXml, 'utf8');
  const room = await makeRoomForManifest(ctx, manifestKey, parseManifest(manifestBody), o.replace ?? false);

  const parts = [...o.parts].sort((a, b) => a.index - b.index);
  const progress: TransferProgress = { partsDone: 0, partsTotal: parts.length, bytesDone: 0, partsSkipped: 0 };
  const copied: string[] = [];
  const skipped: string[] = [];
  await eachLimited(parts, concurrency, async (part) => {
    const sourceKey = sourcePrefix + part.filename;
    const key = prefix + part.filename;
    const source = await objectState(o.sourceClient, sourceBucket, sourceKey, stateOptions(sourceCtx));
    if (!source.exists) throw new PartMissingError(part.index, formatS3Url(sourceBucket, sourceKey));
    const target = await objectState(o.targetClient, bucket, key, stateOptions(ctx));
    if (target.exists && target.size === source.size && source.etag !== undefined && target.etag === source.etag) {
      await putAcl(ctx, key);
      skipped.push(key);
      progress.partsSkipped++;
    } else {
      await send(ctx, `CopyObject with ACL ${acl}`, key, async () => {
        const out = await o.targetClient.send(
          new CopyObjectCommand({
            Bucket: bucket,
            Key: key,
            CopySource: `${sourceBucket}/${sourceKey.split('/').map(encodeURIComponent).join('/')}`,
            ACL: sdkAcl(acl),
            MetadataDirective: 'COPY',
            ...(source.etag !== undefined ? { CopySourceIfMatch: `"${source.etag}"` } : {}),
          }),
          { abortSignal: o.signal },
        );
        const etag = out.CopyObjectResult?.ETag?.replace(/"/g, '').toLowerCase();
        if (source.etag !== undefined && etag !== undefined && etag !== source.etag) {
          throw Object.assign(new Error(`the copy's ETag ${etag} is not the source's ${source.etag}`), { name: 'BadDigest' });
        }
      });
      copied.push(key);
    }
    progress.partsDone++;
    progress.bytesDone += source.size;
    o.onProgress?.({ ...progress });
  });
  await putManifest(ctx, manifestKey, manifestBody, room.alreadyThere);
  return { manifest: formatS3Url(bucket, manifestKey), copied: copied.sort(), skipped: skipped.sort() };
}
