import { InvalidOptionError } from '@bundlefarm/errors';

/**
 * `s3://bucket/key` addresses and the rules for their parts. The checks are stricter than S3 itself:
 * bucket names follow the current ("DNS-compatible", virtual-host-safe) rules that every region
 * enforces for new buckets, and keys/prefixes refuse forms that other tools (and EC2's own bundle
 * reader) treat inconsistently — leading `/`, empty, `.` or `..` segments, control characters.
 */
export interface S3Location {
  bucket: string;
  /** The rest after `bucket/`: an object key, or a prefix; '' for `s3://bucket` and `s3://bucket/`. */
  key: string;
}

/** S3 allows 1024 bytes per key. */
export const MAX_KEY_BYTES = 1024;
/**
 * A prefix leaves room for the longest name bundlefarm appends: a 100-character bundle name with
 * `.manifest.xml` or `.part.NNNN`, or the preflight probe's name.
 */
export const MAX_PREFIX_BYTES = 900;

const BUCKET_CHARS = /^[a-z0-9.-]+$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
/** Prefixes and suffixes S3 reserves for access points, aliases, directory and table buckets. */
const RESERVED_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'];
const RESERVED_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'];
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\x00-\x1f\x7f]/;
/** Invisible format characters (U+200B…U+200F, U+202A…U+202E bidi overrides, U+FEFF …): they make a key read as another. */
const FORMAT = /\p{Cf}/u;

/** Parses `s3://bucket[/key]`. The key may be empty; use `checkObjectKey` when an object is meant. */
export function parseS3Url(url: string): S3Location {
  if (typeof url !== 'string' || !/^s3:\/\//i.test(url)) {
    throw new InvalidOptionError('S3 URL', `${JSON.stringify(url)} is not an s3://bucket/key URL`);
  }
  const rest = url.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const key = slash === -1 ? '' : rest.slice(slash + 1);
  if (bucket === '') {
    throw new InvalidOptionError('S3 URL', `${JSON.stringify(url)} names no bucket (s3:///… looks like a file path; write s3://BUCKET/KEY)`);
  }
  checkBucketName(bucket);
  // a trailing / marks a prefix (s3://bucket/images/); the segments before it follow the key rules
  if (key !== '') checkKeyText(key.endsWith('/') ? key.slice(0, -1) : key, 'S3 key', key);
  return { bucket, key };
}

export function formatS3Url(bucket: string, key = ''): string {
  return `s3://${bucket}/${key}`;
}

/**
 * Throws InvalidOptionError unless `name` is a bucket name valid in every region: 3–63 characters of
 * lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit, no `..`,
 * `.-` or `-.`, not an IPv4 address, none of S3's reserved prefixes and suffixes.
 */
export function checkBucketName(name: string): string {
  const refuse = (reason: string): never => {
    throw new InvalidOptionError('S3 bucket name', `${JSON.stringify(name)} ${reason}`);
  };
  if (typeof name !== 'string' || name === '') refuse('is empty');
  if (name.includes('/') || name.includes('\\')) {
    refuse('looks like a path: give the bucket name alone, and the key prefix separately (or s3://BUCKET/PREFIX)');
  }
  if (name.length < 3 || name.length > 63) refuse(`is ${name.length} characters long; bucket names have 3 to 63`);
  if (/[A-Z]/.test(name)) refuse('has uppercase letters; bucket names are lowercase');
  if (name.includes('_')) refuse('has an underscore; bucket names use hyphens');
  if (!BUCKET_CHARS.test(name)) refuse('may only contain lowercase letters, digits, dots and hyphens');
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) refuse('must start and end with a letter or digit');
  if (name.includes('..')) refuse('has two adjacent dots');
  if (name.includes('.-') || name.includes('-.')) refuse('has a dot next to a hyphen');
  if (IPV4.test(name)) refuse('is formatted as an IP address');
  for (const p of RESERVED_PREFIXES) if (name.startsWith(p)) refuse(`starts with the reserved prefix ${p}`);
  for (const s of RESERVED_SUFFIXES) if (name.endsWith(s)) refuse(`ends with the reserved suffix ${s}`);
  return name;
}

/**
 * Checks a key prefix and returns it normalized: '' stays '', anything else ends with exactly one `/`
 * (`images/2024` → `images/2024/`). Refuses a leading `/`, empty, `.` and `..` segments, control
 * characters and more than MAX_PREFIX_BYTES bytes.
 */
export function checkKeyPrefix(prefix: string): string {
  if (typeof prefix !== 'string') throw new InvalidOptionError('S3 key prefix', 'is not a string');
  if (prefix === '') return '';
  const normalized = prefix.endsWith('/') ? prefix : `${prefix}/`;
  checkKeyText(normalized.slice(0, -1), 'S3 key prefix', prefix);
  if (Buffer.byteLength(normalized, 'utf8') > MAX_PREFIX_BYTES) {
    throw new InvalidOptionError('S3 key prefix', `${JSON.stringify(prefix)} is longer than ${MAX_PREFIX_BYTES} bytes`);
  }
  return normalized;
}

/** Checks the key of one object (an image, a manifest): non-empty, at most 1024 bytes, no odd segments. */
export function checkObjectKey(key: string): string {
  if (typeof key !== 'string' || key === '') throw new InvalidOptionError('S3 object key', 'is empty: the URL names a bucket, not an object');
  if (key.endsWith('/')) throw new InvalidOptionError('S3 object key', `${JSON.stringify(key)} ends with / (a prefix, not an object)`);
  checkKeyText(key, 'S3 object key');
  return key;
}

/** Segment rules shared by keys and prefixes (a trailing `/` already removed for prefixes). */
function checkKeyText(key: string, option: string, shown = key): void {
  const refuse = (reason: string): never => {
    throw new InvalidOptionError(option, `${JSON.stringify(shown)} ${reason}`);
  };
  if (CONTROL.test(key)) refuse('contains control characters');
  if (FORMAT.test(key)) refuse('contains invisible format characters (such as U+202E)');
  if (key.startsWith('/')) refuse('starts with /; keys are relative to the bucket');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) refuse(`is longer than ${MAX_KEY_BYTES} bytes`);
  for (const segment of key.split('/')) {
    if (segment === '') refuse('has an empty segment (//)');
    if (segment === '.' || segment === '..') refuse(`has a ${segment} segment`);
  }
}
