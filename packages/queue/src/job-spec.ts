/**
 * A bundle job as producers (API, webhooks, CLI `enqueue`) submit it. Validated at the edge with zod;
 * every problem is reported at once. Key material never travels in a job: `identity` names a key pair
 * that each worker resolves from its own configuration.
 */
import { z } from 'zod';
import { amiBlockDeviceMappingSchema, amiDescriptionSchema, amiNameSchema } from '@bundlefarm/ec2';
import { isBundlefarmError } from '@bundlefarm/errors';
import {
  AWS_REGIONS,
  checkBlockDeviceMappings,
  checkBundleName,
  checkImageId,
  checkProductCodes,
  MAX_IMAGE_SIZE,
  normalizeAccountId,
} from '@bundlefarm/format';
import { checkKeyPrefix, checkObjectKey, parseS3Url } from '@bundlefarm/s3';

/**
 * Runs one of @bundlefarm/format's checks — the very function the CLI applies to its flags — as a zod
 * refinement: one rule, one place, so the API and the CLI accept and refuse the same values (a property
 * test holds them to it). The check's reason becomes the issue's message.
 */
function formatRule<T>(check: (value: T) => unknown): (value: T, ctx: z.RefinementCtx) => void {
  return (value, ctx) => {
    try {
      check(value);
    } catch (err) {
      if (!isBundlefarmError(err)) throw err;
      ctx.addIssue({ code: 'custom', message: String(err.details.reason ?? err.message) });
    }
  };
}

/** `[A-Za-z0-9._-]`, 1–100 characters, not `.`/`..`, not hidden: tar member, part and manifest prefix (checkBundleName). */
export const bundleNameSchema = z.string().superRefine(formatRule(checkBundleName));

/** S3 "v2 safe" bucket names (what ec2-upload-bundle accepts): never a path. */
export const bucketSchema = z
  .string()
  .min(3)
  .max(63)
  .regex(/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/, 'must be a DNS-compatible S3 bucket name (lowercase letters, digits, "." and "-")')
  .refine((s) => !s.includes('..') && !s.includes('.-') && !s.includes('-.'), 'must not contain "..", ".-" or "-."')
  .refine((s) => !/^\d+\.\d+\.\d+\.\d+$/.test(s), 'must not be an IP address');

/** @bundlefarm/s3's checks (the very rules the worker applies) as refinements, like formatRule. */
const s3Rule = formatRule<string>;

/** '' or `dir/…` ('/' is added when missing): at most 900 bytes, no empty, "." or ".." segments, no control or format characters. */
export const keyPrefixSchema = z
  .string()
  .refine((s) => !s.includes('\\'), 'must not contain "\\"')
  .superRefine(s3Rule(checkKeyPrefix));

export const KNOWN_REGIONS: readonly string[] = [...AWS_REGIONS, 'us-gov-west-1', 'cn-north-1'];

export const regionSchema = z.string().refine((r) => KNOWN_REGIONS.includes(r), {
  error: (issue) => `unknown region ${JSON.stringify(issue.input)}: not a region with a known EC2 certificate`,
});

const akiSchema = z.string().superRefine(formatRule((v: string) => checkImageId(v, 'aki', 'kernelId')));
const ariSchema = z.string().superRefine(formatRule((v: string) => checkImageId(v, 'ari', 'ramdiskId')));

/**
 * Register the region's bundle as an AMI once its manifest is published (EC2 RegisterImage in that
 * region, idempotent across retries: see registerOnce in @bundlefarm/ec2). In webhook rules, `name` and
 * `description` take {{placeholders}} like every string of a spec.
 */
export const registerSpecSchema = z
  .object({
    /** AMI name: 3–128 letters, digits, spaces and `()[]./-'@_`; unique among the account's images in the region. */
    name: amiNameSchema,
    description: amiDescriptionSchema.optional(),
    /** Default: EC2's (paravirtual for instance-store images). */
    virtualizationType: z.enum(['paravirtual', 'hvm']).optional(),
    /** Default: the spec's architecture. */
    architecture: z.enum(['i386', 'x86_64']).optional(),
    /** Instance store volumes beyond those the manifest maps, e.g. `{ "virtual": "ephemeral1", "device": "sdc" }`. */
    blockDeviceMappings: z.array(amiBlockDeviceMappingSchema).max(32).optional(),
  })
  .strict();

export const regionTargetSchema = z
  .object({
    /** Target region; picks the EC2 certificate (partition) and the S3 endpoint. */
    region: regionSchema,
    bucket: bucketSchema,
    /** Key prefix inside the bucket ('' or ending with '/'; '/' is added when missing). */
    prefix: keyPrefixSchema.default(''),
    /** Kernel and ramdisk ids as they exist in this region. */
    kernelId: akiSchema.optional(),
    ramdiskId: ariSchema.optional(),
    /** Register the published bundle as an AMI in this region (default: not registered). */
    register: registerSpecSchema.optional(),
  })
  .strict();

/**
 * Where the image comes from: `s3://bucket/key`, or a path relative to the worker's configured local
 * image root (never outside it: absolute paths and `..` are refused).
 */
export const imageRefSchema = z
  .string()
  .min(1)
  .max(4096)
  .superRefine((s, ctx) => {
    const problem = (message: string): void => ctx.addIssue({ code: 'custom', message });
    if (s.startsWith('s3://')) {
      const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(s);
      if (!m) problem('must be s3://bucket/key');
      else if (!bucketSchema.safeParse(m[1]).success) problem(`has an invalid bucket name ${JSON.stringify(m[1])}`);
      else s3Rule((url) => checkObjectKey(parseS3Url(url).key))(s, ctx);
      return;
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) problem('only s3:// URLs and paths relative to the image root are supported');
    else if (s.startsWith('/')) problem('must be a path relative to the image root (no leading "/"), or s3://bucket/key');
    if (s.split('/').includes('..')) problem('must not leave the image root ("..")');
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    if (/[\x00-\x1f\x7f]/.test(s)) problem('must not contain control characters');
  });

/** What `-B virtual=device,…` gives on the CLI, under the same rules (checkBlockDeviceMappings: each virtual name once). */
export const blockDeviceMappingSchema = z
  .array(z.object({ virtual: z.string(), device: z.string() }).strict())
  .superRefine(formatRule(checkBlockDeviceMappings));

/**
 * A filesystem to build from `image` before bundling it (deliverable of `bundlefarm bundle-vol` /
 * `bundle-tar`, in the service): `image` then names a root tree (a directory under the image root) or a
 * rootfs tarball (plain, gzip, zstd, xz or bzip2: `s3://bucket/key` or a file under the image root).
 * The worker builds an ext4 image from it in its bounded scratch space (no root, no mount), bundles that,
 * and deletes it.
 */
export const filesystemSchema = z
  .object({
    /** What `image` names: 'tree' (a directory under the image root) or 'tarball'. */
    from: z.enum(['tree', 'tarball']),
    /** Size of the image in MiB (whole disk with a partition table), 16–10240; default: the content plus headroom. */
    sizeMiB: z.number().int('must be a whole number of MiB').min(16).max(MAX_IMAGE_SIZE / (1 << 20)).optional(),
    /** ext4 volume label: at most 16 printable ASCII characters. */
    label: z
      .string()
      .min(1)
      .max(16)
      .regex(/^[\x21-\x7e][\x20-\x7e]*$/, 'must be printable ASCII and not start with a space')
      .optional(),
    /** 'none': a filesystem image (paravirtual, PV-GRUB); 'mbr'/'gpt': a whole disk with one partition (HVM). */
    partition: z.enum(['none', 'mbr', 'gpt']).default('none'),
    /** 'keep': /etc/fstab as the source has it; 'generate': one that mounts the root by the filesystem's UUID. */
    fstab: z.enum(['keep', 'generate']).default('keep'),
  })
  .strict();

export type FilesystemSpec = z.output<typeof filesystemSchema>;

export const jobSpecSchema = z
  .object({
    /** Bundle name (default: the image's file name). */
    name: bundleNameSchema.optional(),
    image: imageRefSchema,
    /** Build a filesystem from `image` (a root tree or a rootfs tarball) first; absent: `image` is a disk image. */
    filesystem: filesystemSchema.optional(),
    architecture: z.enum(['i386', 'x86_64']),
    /** 12-digit AWS account id; hyphens allowed. */
    accountId: z.string().superRefine(formatRule(normalizeAccountId)),
    /** Name of the user key pair, configured on the workers (never the key itself). */
    identity: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be an identity name configured on the workers'),
    regions: z
      .array(regionTargetSchema)
      .min(1)
      .max(16)
      .refine((rs) => new Set(rs.map((r) => r.region)).size === rs.length, 'each region may appear once'),
    blockDeviceMapping: blockDeviceMappingSchema.optional(),
    productCodes: z.array(z.string()).superRefine(formatRule(checkProductCodes)).optional(),
    /** Compression level 1–9 (default: the engine's DEFAULT_LEVEL). */
    level: z.number().int().min(1).max(9).optional(),
    /** Compression tasks of this job at once on the worker's pool (default: the pool size). */
    threads: z.number().int().min(1).max(64).optional(),
    /**
     * Replace a bundle already published at a target (its NAME.manifest.xml). Default false: such a
     * target is refused (BF_BUNDLE_EXISTS: 409 at enqueue when the API can see it, else the job fails)
     * and nothing there is touched. With true, the old manifest is withdrawn only once the image has been
     * opened and checked and preflight has passed, just before the first part goes to that target.
     */
    replace: z.boolean().default(false),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.filesystem?.from === 'tree' && spec.image.startsWith('s3://')) {
      ctx.addIssue({ code: 'custom', path: ['image'], message: 'a root tree is a directory under the image root; for S3, upload a tarball of it and say "from": "tarball"' });
    }
  });

export type JobSpecInput = z.input<typeof jobSpecSchema>;
export type JobSpec = z.output<typeof jobSpecSchema>;
export type RegionTarget = z.output<typeof regionTargetSchema>;
export type RegisterSpec = z.output<typeof registerSpecSchema>;

/** One problem in a spec, for 400 responses: where and what. */
export interface SpecProblem {
  path: string;
  message: string;
}

export type SpecValidation = { ok: true; spec: JobSpec } | { ok: false; problems: SpecProblem[] };

export function validateJobSpec(input: unknown): SpecValidation {
  const r = jobSpecSchema.safeParse(input);
  if (r.success) return { ok: true, spec: r.data };
  return {
    ok: false,
    problems: r.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(body)', message: i.message })),
  };
}

export { MAX_IMAGE_SIZE };
