/*
 * A published bundle is its manifest: EC2 registers (and, for instance-store AMIs, launches) from
 * `PREFIX/NAME.manifest.xml` and the parts it names. This module answers "is a bundle published at this
 * target, and whose is it?", and takes one down when the caller may.
 *
 * Whose: every object bundlefarm writes (parts, manifests, preflight probes) carries the user metadata
 * `x-amz-meta-bundlefarm-job: <job>` (OWNER_METADATA; the worker marks objects with the job's id and
 * creation time, see its jobOwner). A manifest carrying the caller's own mark was published by an
 * earlier attempt of the same job, and the caller may replace it; any other manifest — another job's,
 * ec2-upload-bundle's, a human's — is someone else's, and may be replaced only when the caller was
 * explicitly asked to (`replace: true`). Otherwise it is refused with BundleExistsError.
 */
import { DeleteObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { BundleExistsError } from '@bundlefarm/errors';
import { parseManifest } from '@bundlefarm/format';
import { checkRetryOptions, withRetry, type RetryOptions } from './retry.js';
import { abortedError, s3ErrorFacts, toS3Error } from './s3-error-mapping.js';
import { S3PartSource } from './s3-part-source.js';
import { checkKeyPrefix, formatS3Url } from './s3-url.js';

/** User metadata key (sent as `x-amz-meta-bundlefarm-job`) naming the job that wrote an object. */
export const OWNER_METADATA = 'bundlefarm-job';

/** The user metadata of an object written by `owner`. */
export function ownerMetadata(owner: string): Record<string, string> {
  return { [OWNER_METADATA]: owner };
}

export interface BundleTarget {
  region: string;
  bucket: string;
  /** Key prefix ('' or `dir/…`; normalized). */
  prefix: string;
}

export interface PublishedOptions {
  retry?: RetryOptions;
  signal?: AbortSignal;
}

/** What HeadObject says of one object: nothing there, or who wrote it (undefined: not bundlefarm, or not known). */
export type ObjectOwnership = { exists: false } | { exists: true; owner: string | undefined };

/** HeadObject of `key`: whether it exists and whose it is. Rejects (typed S3 error) when S3 cannot say. */
export async function objectOwnership(client: S3Client, target: BundleTarget, key: string, options: PublishedOptions = {}): Promise<ObjectOwnership> {
  const { bucket, region } = target;
  const signal = options.signal;
  try {
    const head = await withRetry({ policy: checkRetryOptions(options.retry), operation: 'HeadObject', bucket, key, ...(signal ? { signal } : {}) }, () =>
      client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal }),
    );
    return { exists: true, owner: head.Metadata?.[OWNER_METADATA] };
  } catch (err) {
    const { status, name } = s3ErrorFacts(err);
    if (status === 404 && (name === 'NotFound' || name === 'NoSuchKey')) return { exists: false };
    throw toS3Error(err, { bucket, key, region, operation: 'HeadObject' }, signal);
  }
}

/** The manifest at a target, as far as replacing it goes. */
export type PublishedManifest =
  | { state: 'none'; key: string }
  /** Published by an earlier attempt of the same job (its owner is the caller). */
  | { state: 'own'; key: string }
  /** Published by someone else (another job, another tool, a human): `owner` when bundlefarm wrote it. */
  | { state: 'foreign'; key: string; owner: string | undefined };

/** `PREFIX/NAME.manifest.xml` at the target: none, the caller's own (`owner`; none without one), or someone else's. */
export async function publishedManifest(
  client: S3Client,
  target: BundleTarget,
  manifestName: string,
  owner: string | undefined,
  options: PublishedOptions = {},
): Promise<PublishedManifest> {
  const key = checkKeyPrefix(target.prefix) + manifestName;
  const found = await objectOwnership(client, target, key, options);
  if (!found.exists) return { state: 'none', key };
  if (owner !== undefined && found.owner === owner) return { state: 'own', key };
  return { state: 'foreign', key, owner: found.owner };
}

/** Throws BundleExistsError (naming every such object) when any manifest found is someone else's. */
export function refuseForeign(found: ReadonlyArray<{ bucket: string; manifest: PublishedManifest }>): void {
  const foreign = found.filter((f) => f.manifest.state === 'foreign').map((f) => formatS3Url(f.bucket, f.manifest.key));
  if (foreign.length > 0) throw new BundleExistsError(foreign.join(', '));
}

/** A manifest taken down so that a new bundle can take its place. */
export interface WithdrawnBundle {
  /** s3:// URL of the manifest deleted. */
  manifest: string;
  /** Job that had published it (absent: not bundlefarm, or not known). */
  owner?: string;
  /** True when it was the caller's own (an earlier attempt of the same job). */
  own: boolean;
  /**
   * s3:// URLs of the parts that manifest named, when it could be read (someone else's only; the caller's
   * own parts are recognised by their metadata): the parts of the bundle being replaced.
   */
  parts?: string[];
}

export interface WithdrawOptions extends PublishedOptions {
  /** The caller (its job mark): a manifest carrying it is withdrawn as the caller's own (none without one). */
  owner?: string;
  /** Take down a manifest someone else published (else: BundleExistsError, nothing touched). */
  replace: boolean;
}

/**
 * Takes the bundle's manifest down from the target, if there is one and the caller may (see the file
 * header): resolves with what was withdrawn, or undefined when there was no manifest. Someone else's
 * manifest is read first (best effort) to learn the parts it named. The DELETE itself is not cancelled
 * by `signal` once sent: a manifest must not be left half-decided.
 */
export async function withdrawPublished(client: S3Client, target: BundleTarget, manifestName: string, options: WithdrawOptions): Promise<WithdrawnBundle | undefined> {
  const found = await publishedManifest(client, target, manifestName, options.owner, options);
  if (found.state === 'none') return undefined;
  if (found.state === 'foreign' && !options.replace) refuseForeign([{ bucket: target.bucket, manifest: found }]);
  const withdrawn: WithdrawnBundle = { manifest: formatS3Url(target.bucket, found.key), own: found.state === 'own' };
  if (found.state === 'foreign') {
    if (found.owner !== undefined) withdrawn.owner = found.owner;
    const parts = await partsNamed(client, target, manifestName, options);
    if (parts) withdrawn.parts = parts;
  }
  const { bucket, region } = target;
  const key = found.key;
  if (options.signal?.aborted) throw abortedError({ bucket, key, region, operation: 'DeleteObject' }, options.signal.reason);
  try {
    await withRetry({ policy: checkRetryOptions(options.retry), operation: 'DeleteObject', bucket, key }, () =>
      client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })),
    );
  } catch (err) {
    throw toS3Error(err, { bucket, key, region, operation: 'DeleteObject' });
  }
  return withdrawn;
}

/** s3:// URLs of the parts the manifest at the target names; undefined when it cannot be read or parsed. */
async function partsNamed(client: S3Client, target: BundleTarget, manifestName: string, options: PublishedOptions): Promise<string[] | undefined> {
  const prefix = checkKeyPrefix(target.prefix);
  try {
    const source = new S3PartSource({
      client,
      bucket: target.bucket,
      prefix,
      ...(options.retry ? { retry: options.retry } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const { manifest } = parseManifest(await source.readManifest(manifestName));
    return manifest.image.parts.map((p) => formatS3Url(target.bucket, prefix + p.filename));
  } catch (err) {
    if (options.signal?.aborted) throw toS3Error(err, { bucket: target.bucket, key: prefix + manifestName, region: target.region, operation: 'GetObject' }, options.signal);
    return undefined;
  }
}
