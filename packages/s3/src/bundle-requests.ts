/*
 * The requests of moving a bundle (upload, copy), each retried and mapped to a typed error naming the
 * bucket, key, region and ACL: a PUT with Content-MD5 and the canned ACL (its ETag checked against the
 * MD5), and the ACL alone for an object found already in place.
 */
import { DeleteObjectCommand, PutObjectAclCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { BundleExistsError } from '@bundlefarm/errors';
import { parseManifest, type BundleManifest, type ParsedManifest } from '@bundlefarm/format';
import { sdkAcl, type S3BundleAcl } from './bundle-acl.js';
import { md5Hex, objectMatches, objectState } from './object-state.js';
import { withRetry, type RetryPolicy } from './retry.js';
import { toS3Error } from './s3-error-mapping.js';
import { S3PartSource } from './s3-part-source.js';
import { formatS3Url } from './s3-url.js';

export interface SendContext {
  client: S3Client;
  bucket: string;
  region: string | undefined;
  acl: S3BundleAcl;
  retry: RetryPolicy;
  signal: AbortSignal | undefined;
}

export function stateOptions(ctx: SendContext): { retry: RetryPolicy; signal?: AbortSignal; region?: string } {
  return { retry: ctx.retry, ...(ctx.signal ? { signal: ctx.signal } : {}), ...(ctx.region !== undefined ? { region: ctx.region } : {}) };
}

export async function send(ctx: SendContext, operation: string, key: string, fn: () => Promise<unknown>): Promise<void> {
  const { bucket, region, signal } = ctx;
  try {
    await withRetry({ policy: ctx.retry, operation, bucket, key, ...(signal ? { signal } : {}) }, fn);
  } catch (err) {
    throw toS3Error(err, { bucket, key, operation, acl: ctx.acl, ...(region !== undefined ? { region } : {}) }, signal);
  }
}

export function putObject(ctx: SendContext, key: string, body: Buffer, md5: string): Promise<void> {
  const contentMd5 = Buffer.from(md5, 'hex').toString('base64');
  return send(ctx, `PutObject with ACL ${ctx.acl}`, key, async () => {
    const out = await ctx.client.send(
      new PutObjectCommand({ Bucket: ctx.bucket, Key: key, Body: body, ContentLength: body.length, ContentMD5: contentMd5, ACL: sdkAcl(ctx.acl) }),
      { abortSignal: ctx.signal },
    );
    const etag = out.ETag?.replace(/"/g, '').toLowerCase();
    if (etag !== undefined && /^[0-9a-f]{32}$/.test(etag) && etag !== md5 && out.ServerSideEncryption !== 'aws:kms' && !out.SSECustomerAlgorithm) {
      throw Object.assign(new Error('the ETag S3 returned is not the MD5 of the uploaded bytes'), { name: 'BadDigest' });
    }
  });
}

/** Gives an object already in place the bundle's ACL (it may have been sent with another). */
export function putAcl(ctx: SendContext, key: string): Promise<void> {
  return send(ctx, `PutObjectAcl ${ctx.acl}`, key, () =>
    ctx.client.send(new PutObjectAclCommand({ Bucket: ctx.bucket, Key: key, ACL: sdkAcl(ctx.acl) }), { abortSignal: ctx.signal }),
  );
}

/**
 * Before a bundle goes to `manifestKey`: a manifest there that names other parts (another image, another
 * bundling) belongs to another bundle of the same name. Refused (BundleExistsError) unless `replace`, then
 * deleted first — its parts are about to be overwritten one by one, and it must not name a mix of two
 * bundles meanwhile. A manifest of the same bundle (the same bytes, or the same image and parts signed or
 * wrapped anew, as a migrated manifest is on every run) is simply replaced at the end.
 * Resolves with whether the very same manifest is already there, and whether another bundle's was removed.
 */
export async function makeRoomForManifest(
  ctx: SendContext,
  manifestKey: string,
  manifest: ParsedManifest,
  replace: boolean,
): Promise<{ alreadyThere: boolean; replaced: boolean }> {
  const body = Buffer.from(manifest.xml, 'utf8');
  const existing = await objectState(ctx.client, ctx.bucket, manifestKey, stateOptions(ctx));
  if (!existing.exists) return { alreadyThere: false, replaced: false };
  if (objectMatches(existing, body)) return { alreadyThere: true, replaced: false };
  if (await sameBundle(ctx, manifestKey, manifest)) return { alreadyThere: false, replaced: false };
  if (!replace) throw new BundleExistsError(formatS3Url(ctx.bucket, manifestKey));
  await send(ctx, 'DeleteObject', manifestKey, () => ctx.client.send(new DeleteObjectCommand({ Bucket: ctx.bucket, Key: manifestKey })));
  return { alreadyThere: false, replaced: true };
}

/** True when the manifest at `key` describes the same image in the same parts (false when it cannot be read or parsed). */
async function sameBundle(ctx: SendContext, key: string, ours: ParsedManifest): Promise<boolean> {
  const slash = key.lastIndexOf('/');
  const source = new S3PartSource({
    client: ctx.client,
    bucket: ctx.bucket,
    prefix: key.slice(0, slash + 1),
    retry: ctx.retry,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  let theirs: BundleManifest;
  try {
    theirs = parseManifest(await source.readManifest(key.slice(slash + 1))).manifest;
  } catch {
    return false;
  }
  const a = ours.manifest.image;
  const b = theirs.image;
  const parts = (m: typeof a): string => JSON.stringify([...m.parts].sort((x, y) => x.index - y.index).map((p) => [p.index, p.filename, p.digest.toLowerCase()]));
  return a.digest === b.digest && a.size === b.size && a.bundledSize === b.bundledSize && parts(a) === parts(b);
}

/** The manifest, last: sent, or (when the same bytes are there already) given the ACL again. */
export async function putManifest(ctx: SendContext, manifestKey: string, manifestBody: Buffer, alreadyThere: boolean): Promise<void> {
  if (alreadyThere) await putAcl(ctx, manifestKey);
  else await putObject(ctx, manifestKey, manifestBody, md5Hex(manifestBody));
}
