/**
 * What registering a bundle as an AMI asks of EC2, and EC2's documented rules for it, checked with zod
 * before any request is sent (the same rules EC2 applies, so a bad name fails here, with a message that
 * says what is wrong, not as an opaque 400 later):
 *
 * - `name`: 3–128 characters: letters, digits, `(`, `)`, `[`, `]`, space, `.`, `/`, `-`, `'`, `@`, `_`;
 * - `description`: at most 255 characters;
 * - the manifest location: `bucket/key` (or `s3://bucket/key`), the key ending in `.manifest.xml`;
 * - `architecture` i386 or x86_64; kernel `aki-…`, ramdisk `ari-…`; virtualization paravirtual or hvm;
 * - extra block device mappings: `{ virtual: 'ephemeralN', device }`, N 0–23, at most 32.
 */
import { z } from 'zod';
import { AmiNameInvalidError, InvalidOptionError } from '@bundlefarm/errors';

/** Where a bundle's manifest is, as EC2 reads it. */
export interface ManifestLocation {
  bucket: string;
  /** Key of NAME.manifest.xml in the bucket. */
  key: string;
}

export interface BlockDeviceMappingEntry {
  /** `ephemeral0` … `ephemeral23`: an instance store volume. */
  virtual: string;
  /** The device it appears as, e.g. `sdb` or `/dev/sdb`. */
  device: string;
}

export interface RegisterImageOptions {
  manifest: ManifestLocation;
  name: string;
  description?: string;
  /** Default: what the manifest says. */
  architecture?: 'i386' | 'x86_64';
  kernelId?: string;
  ramdiskId?: string;
  /** Default: EC2's (paravirtual for instance-store images). */
  virtualizationType?: 'paravirtual' | 'hvm';
  /** Instance store volumes beyond those the manifest maps. */
  blockDeviceMappings?: BlockDeviceMappingEntry[];
}

/** EC2's AMI name rule. */
export const AMI_NAME_PATTERN = /^[A-Za-z0-9()[\] ./'@_-]{3,128}$/;

/** The reason `name` breaks EC2's AMI name rule, undefined when it does not. */
export function amiNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 128) return `must be 3 to 128 characters long (it has ${name.length})`;
  const bad = [...name].find((c) => !AMI_NAME_PATTERN.test(`${c}ab`));
  if (bad !== undefined) return `character ${JSON.stringify(bad)} is not allowed (letters, digits, spaces and ( ) [ ] . / - ' @ _ are)`;
  return undefined;
}

export const amiNameSchema = z.string().superRefine((name, ctx) => {
  const problem = amiNameProblem(name);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

export const amiDescriptionSchema = z.string().max(255, 'must be at most 255 characters');

export const amiBlockDeviceMappingSchema = z
  .object({
    virtual: z.string().regex(/^ephemeral(?:[0-9]|1[0-9]|2[0-3])$/, 'must be ephemeral0 to ephemeral23 (an instance store volume)'),
    device: z.string().regex(/^(?:\/dev\/)?[a-z]{2,4}[a-z0-9]{1,4}$/, 'must be a device name such as sdb, xvdb or /dev/sdb'),
  })
  .strict();

export const registerImageOptionsSchema = z
  .object({
    manifest: z.object({ bucket: z.string().min(3).max(63), key: z.string().min(1).max(1024) }).strict(),
    name: amiNameSchema,
    description: amiDescriptionSchema.optional(),
    architecture: z.enum(['i386', 'x86_64']).optional(),
    kernelId: z.string().regex(/^aki-[0-9a-f]{8}(?:[0-9a-f]{9})?$/, 'must be an aki-xxxxxxxx id').optional(),
    ramdiskId: z.string().regex(/^ari-[0-9a-f]{8}(?:[0-9a-f]{9})?$/, 'must be an ari-xxxxxxxx id').optional(),
    virtualizationType: z.enum(['paravirtual', 'hvm']).optional(),
    blockDeviceMappings: z.array(amiBlockDeviceMappingSchema).max(32).optional(),
  })
  .strict();

/** Validates the options; throws AmiNameInvalidError for the name, InvalidOptionError for anything else. */
export function checkRegisterImageOptions(options: RegisterImageOptions): RegisterImageOptions {
  const r = registerImageOptionsSchema.safeParse(options);
  if (r.success) {
    if (!r.data.manifest.key.endsWith('.manifest.xml')) {
      throw new InvalidOptionError('manifest', `s3://${r.data.manifest.bucket}/${r.data.manifest.key} is not a bundle manifest (NAME.manifest.xml)`);
    }
    return r.data;
  }
  const issue = r.error.issues[0]!;
  if (issue.path[0] === 'name' && typeof options.name === 'string') throw new AmiNameInvalidError(options.name, issue.message);
  throw new InvalidOptionError(issue.path.map(String).join('.') || 'register options', issue.message);
}

/**
 * `BUCKET/PREFIX/NAME.manifest.xml` (ec2-register's form) or `s3://BUCKET/…` → bucket and key.
 * Throws InvalidOptionError naming what is wrong.
 */
export function parseManifestLocation(text: string): ManifestLocation {
  const path = text.startsWith('s3://') ? text.slice(5) : text;
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) {
    throw new InvalidOptionError('manifest location', `${JSON.stringify(text)} is not BUCKET/[PREFIX/]NAME.manifest.xml`);
  }
  const bucket = path.slice(0, slash);
  const key = path.slice(slash + 1);
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new InvalidOptionError('manifest location', `${JSON.stringify(bucket)} is not an S3 bucket name`);
  }
  if (!key.endsWith('.manifest.xml') || key.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new InvalidOptionError('manifest location', `${JSON.stringify(key)} is not a key of a bundle manifest (PREFIX/NAME.manifest.xml)`);
  }
  return { bucket, key };
}

/** The `ImageLocation` EC2 takes and reports: `bucket/key`. */
export function imageLocation(manifest: ManifestLocation): string {
  return `${manifest.bucket}/${manifest.key}`;
}
