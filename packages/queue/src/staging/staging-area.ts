/*
 * The staging area: where clients (CI) upload images for the service through presigned URLs
 * (`POST /v1/uploads`), configured as `s3://BUCKET/PREFIX` (BUNDLEFARM_STAGING) for the API and the
 * workers alike. Each upload is one object at
 *
 *     PREFIX/<principal>/<upload id>/<file name>
 *
 * where the upload id is a random UUID, also the object's mark (`x-amz-meta-bundlefarm-upload`). The
 * workers delete a job's image when the job ends only if it parses here as a staged object of the
 * job's own principal AND carries that mark with that id: job data in Redis is not trusted, so a spec
 * naming any other object (published bundles, another team's images, a hand-put object under the
 * prefix) never gets it deleted.
 */
import { InvalidOptionError } from '@bundlefarm/errors';
import { checkKeyPrefix, formatS3Url, parseS3Url } from '@bundlefarm/s3';

export interface StagingArea {
  bucket: string;
  /** '' or ending with '/'. */
  prefix: string;
}

/** A staged object, as read from its key. */
export interface StagedImage {
  bucket: string;
  key: string;
  principal: string;
  /** The upload id (a UUID), also the object's mark. */
  uploadId: string;
  filename: string;
}

/** Upload ids: random UUIDs (v4), lowercase. */
export const UPLOAD_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** File names of staged images: what a bundle may be named after (letters, digits, ".", "_", "-"; no leading dot), 1–100. */
export const STAGED_FILENAME_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/;
const PRINCIPAL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Parses `s3://BUCKET[/PREFIX]` (InvalidOptionError naming `setting` otherwise). */
export function parseStagingArea(url: string, setting = 'staging'): StagingArea {
  try {
    const { bucket, key } = parseS3Url(url);
    return { bucket, prefix: checkKeyPrefix(key) };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new InvalidOptionError(setting, `must be s3://BUCKET/PREFIX: ${reason}`);
  }
}

export function stagingAreaUrl(area: StagingArea): string {
  return formatS3Url(area.bucket, area.prefix);
}

/** The key of an upload. */
export function stagedKey(area: StagingArea, principal: string, uploadId: string, filename: string): string {
  if (!PRINCIPAL.test(principal)) throw new InvalidOptionError('principal', `${JSON.stringify(principal)} cannot name a staging directory`);
  if (!UPLOAD_ID_PATTERN.test(uploadId)) throw new InvalidOptionError('upload id', 'must be a UUID');
  if (!STAGED_FILENAME_PATTERN.test(filename)) throw new InvalidOptionError('filename', `${JSON.stringify(filename)} must be 1-100 letters, digits, ".", "_" or "-", not starting with "."`);
  return `${area.prefix}${principal}/${uploadId}/${filename}`;
}

/** The glob a principal's `images` needs to use the staging area (`s3://BUCKET/PREFIX/<principal>/**`). */
export function stagingScopeGlob(area: StagingArea, principal: string): string {
  return `s3://${area.bucket}/${area.prefix}${principal}/**`;
}

/**
 * `image` as a staged object of `area`, or undefined when it is anything else: another bucket, outside
 * the prefix, not exactly PREFIX/<principal>/<uuid>/<file name>, or odd in any way.
 */
export function stagedImageOf(area: StagingArea, image: unknown): StagedImage | undefined {
  if (typeof image !== 'string' || !image.startsWith('s3://')) return undefined;
  let bucket: string;
  let key: string;
  try {
    ({ bucket, key } = parseS3Url(image));
  } catch {
    return undefined;
  }
  if (bucket !== area.bucket || !key.startsWith(area.prefix)) return undefined;
  const rest = key.slice(area.prefix.length).split('/');
  if (rest.length !== 3) return undefined;
  const [principal, uploadId, filename] = rest as [string, string, string];
  if (!PRINCIPAL.test(principal) || !UPLOAD_ID_PATTERN.test(uploadId) || !STAGED_FILENAME_PATTERN.test(filename)) return undefined;
  return { bucket, key, principal, uploadId, filename };
}
