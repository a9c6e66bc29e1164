/*
 * Whether a (validated) job spec stays inside a principal's scope, field by field — the same check at
 * the API (403 before anything is queued), for every rendered webhook spec, and in the worker before
 * it touches the image or S3 (jobs in Redis are not trusted to have passed the API).
 */
import { realpath } from 'node:fs/promises';
import { isAbsolute, posix, relative, resolve, sep } from 'node:path';
import type { JobSpec, SpecProblem } from '../job-spec.js';
import { bundleName } from '../producer/bundle-producer.js';
import type { GlobSet } from './glob.js';
import type { Principal } from './principals.js';
import { OutOfScopeError } from './scope-errors.js';

/** `prefix` as the worker uses it: '' or ending with '/'. */
function normalPrefix(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/** What a target is matched as: `BUCKET/PREFIX/NAME`. */
export function targetPath(bucket: string, prefix: string, name: string): string {
  return `${bucket}/${normalPrefix(prefix)}${name}`;
}

/** An S3 key the scope can reason about: no empty, "." or ".." segment (HTTP clients may resolve those). */
function plainS3Key(key: string): boolean {
  return key.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

function listed(globs: GlobSet): string {
  return globs.size === 0 ? 'none' : globs.globs.map((g) => g.source).join(', ');
}

/** Every field of `spec` outside `principal`'s scope (empty: all of it is allowed). */
export function specScopeProblems(principal: Principal, spec: JobSpec): SpecProblem[] {
  const problems: SpecProblem[] = [];
  const who = JSON.stringify(principal.name);
  if (!principal.identities.matches(spec.identity)) {
    problems.push({ path: 'identity', message: `principal ${who} may not sign with identity ${JSON.stringify(spec.identity)} (allowed: ${listed(principal.identities)})` });
  }
  const imageProblem = imageScopeProblem(principal, spec.image);
  if (imageProblem) problems.push({ path: 'image', message: imageProblem });
  const name = bundleName(spec);
  spec.regions.forEach((r, i) => {
    if (principal.targets.matches(targetPath(r.bucket, r.prefix, name))) return;
    const where = targetPath(r.bucket, r.prefix, name);
    const allowed = `(allowed: ${listed(principal.targets)})`;
    if (!principal.targets.matchesPrefix(`${r.bucket}/`)) {
      problems.push({ path: `regions.${i}.bucket`, message: `principal ${who} may not write to bucket ${JSON.stringify(r.bucket)} ${allowed}` });
    } else if (!principal.targets.matchesPrefix(`${r.bucket}/${normalPrefix(r.prefix)}`)) {
      problems.push({ path: `regions.${i}.prefix`, message: `principal ${who} may not write under ${JSON.stringify(`${r.bucket}/${normalPrefix(r.prefix)}`)} ${allowed}` });
    } else {
      problems.push({ path: spec.name !== undefined ? 'name' : 'image', message: `principal ${who} may not write bundle ${JSON.stringify(where)} ${allowed}` });
    }
  });
  spec.regions.forEach((r, i) => {
    if (r.register === undefined || principal.registerRegions.matches(r.region)) return;
    const allowed = principal.registerRegions.size === 0 ? 'it may register in no region' : `allowed: ${listed(principal.registerRegions)}`;
    problems.push({ path: `regions.${i}.register`, message: `principal ${who} may not register an AMI in ${JSON.stringify(r.region)} (${allowed})` });
  });
  return problems;
}

/** Why `principal` may not read `image` (as named in the spec), or undefined when it may. */
export function imageScopeProblem(principal: Principal, image: string): string | undefined {
  const who = JSON.stringify(principal.name);
  if (image.startsWith('s3://')) {
    const key = /^s3:\/\/[^/]+\/(.*)$/s.exec(image)?.[1] ?? '';
    if (!plainS3Key(key)) return `the key of ${JSON.stringify(image)} has an empty, "." or ".." segment; scopes cannot vouch for it`;
    if (!principal.s3Images.matches(image)) return `principal ${who} may not read ${JSON.stringify(image)} (allowed: ${listed(principal.s3Images)})`;
    return undefined;
  }
  const path = posix.normalize(image);
  if (path.startsWith('../') || path === '..' || path.startsWith('/')) return `image ${JSON.stringify(image)} is not inside the image root`;
  if (!principal.localImages.matches(path)) return `principal ${who} may not read ${JSON.stringify(path)} of the image root (allowed: ${listed(principal.localImages)})`;
  return undefined;
}

/**
 * The check of a local image's file as opened (its real path inside the root, verified on the
 * descriptor): what `resolvedImageScopeProblem` checks by name before, checked again on what is read,
 * so a symlink swapped in meanwhile cannot lead out of the scope. Throws OutOfScopeError (field `image`).
 */
export function openedImageScope(principal: Principal, image: string): (pathInRoot: string) => void {
  return (path) => {
    if (principal.localImages.matches(path)) return;
    throw new OutOfScopeError(principal.name, [
      { path: 'image', message: `image ${JSON.stringify(image)} opened as ${JSON.stringify(path)} (through a symlink), which principal ${JSON.stringify(principal.name)} may not read` },
    ]);
  };
}

/**
 * For a local image: the path it really is (symlinks resolved) must be in scope as well, so a link
 * inside a permitted directory cannot lead into another team's. Only metadata is read (realpath); an
 * image that does not resolve, or resolves outside the root, is left to the image resolver, which
 * refuses it anyway. Undefined when allowed.
 */
export async function resolvedImageScopeProblem(principal: Principal, imageRoot: string | undefined, image: string): Promise<string | undefined> {
  if (image.startsWith('s3://') || imageRoot === undefined) return undefined;
  let real: string;
  let root: string;
  try {
    root = await realpath(imageRoot);
    real = await realpath(resolve(root, image));
  } catch {
    return undefined;
  }
  const rel = relative(root, real);
  if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) return undefined;
  const path = rel.split(sep).join('/');
  if (principal.localImages.matches(path)) return undefined;
  return `image ${JSON.stringify(image)} resolves (through a symlink) to ${JSON.stringify(path)}, which principal ${JSON.stringify(principal.name)} may not read`;
}
