import { z } from 'zod';
import { AWS_REGIONS, MAX_IMAGE_SIZE } from '@bundlefarm/format';

/**
 * A bundle job as producers (API, webhooks, CLI `enqueue`) submit it. Validated at the edge with zod;
 * every problem is reported at once. Key material never travels in a job: `identity` names a key pair
 * that each worker resolves from its own configuration.
 */

/** `[A-Za-z0-9._-]`, 1–100 characters, not `.`/`..`: tar member, part and manifest prefix. */
export const bundleNameSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9._-]+$/, 'only letters, digits, ".", "_" and "-" are allowed')
  .refine((s) => s !== '.' && s !== '..', 'must not be "." or ".."');

/** S3 "v2 safe" bucket names (what ec2-upload-bundle accepts): never a path. */
export const bucketSchema = z
  .string()
  .min(3)
  .max(63)
  .regex(/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/, 'must be a DNS-compatible S3 bucket name (lowercase letters, digits, "." and "-")')
  .refine((s) => !s.includes('..') && !s.includes('.-') && !s.includes('-.'), 'must not contain "..", ".-" or "-."')
  .refine((s) => !/^\d+\.\d+\.\d+\.\d+$/.test(s), 'must not be an IP address');

export const keyPrefixSchema = z
  .string()
  .max(900)
  .refine((s) => !s.startsWith('/'), 'must not start with "/"')
  .refine((s) => !s.split('/').some((seg) => seg === '..' || seg === '.'), 'must not contain "." or ".." segments')
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  .refine((s) => !/[\x00-\x1f\x7f\\]/.test(s), 'must not contain control characters or "\\"');

export const KNOWN_REGIONS: readonly string[] = [...AWS_REGIONS, 'us-gov-west-1', 'cn-north-1'];

export const regionSchema = z.string().refine((r) => KNOWN_REGIONS.includes(r), {
  error: (issue) => `unknown region ${JSON.stringify(issue.input)}: not a region with a known EC2 certificate`,
});

const akiSchema = z.string().regex(/^aki-[0-9a-f]{8}([0-9a-f]{9})?$/, 'must be an aki-xxxxxxxx id');
const ariSchema = z.string().regex(/^ari-[0-9a-f]{8}([0-9a-f]{9})?$/, 'must be an ari-xxxxxxxx id');

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
      return;
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) problem('only s3:// URLs and paths relative to the image root are supported');
    else if (s.startsWith('/')) problem('must be a path relative to the image root (no leading "/"), or s3://bucket/key');
    if (s.split('/').includes('..')) problem('must not leave the image root ("..")');
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    if (/[\x00-\x1f\x7f]/.test(s)) problem('must not contain control characters');
  });

export const blockDeviceMappingSchema = z
  .array(
    z
      .object({
        virtual: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/),
        device: z.string().regex(/^\/?[A-Za-z0-9/_-]{1,64}$/),
      })
      .strict(),
  )
  .max(32);

export const jobSpecSchema = z
  .object({
    /** Bundle name (default: the image's file name). */
    name: bundleNameSchema.optional(),
    image: imageRefSchema,
    architecture: z.enum(['i386', 'x86_64']),
    /** 12-digit AWS account id; hyphens allowed. */
    accountId: z
      .string()
      .regex(/^[\d-]+$/, 'must be digits and hyphens')
      .refine((s) => s.replace(/-/g, '').length === 12, 'must have 12 digits'),
    /** Name of the user key pair, configured on the workers (never the key itself). */
    identity: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be an identity name configured on the workers'),
    regions: z
      .array(regionTargetSchema)
      .min(1)
      .max(16)
      .refine((rs) => new Set(rs.map((r) => r.region)).size === rs.length, 'each region may appear once'),
    blockDeviceMapping: blockDeviceMappingSchema.optional(),
    productCodes: z.array(z.string().regex(/^[A-Za-z0-9]{1,64}$/)).max(16).optional(),
    /** Compression level 1–9 (default: the engine's DEFAULT_LEVEL). */
    level: z.number().int().min(1).max(9).optional(),
    /** Compression tasks of this job at once on the worker's pool (default: the pool size). */
    threads: z.number().int().min(1).max(64).optional(),
  })
  .strict();

export type JobSpecInput = z.input<typeof jobSpecSchema>;
export type JobSpec = z.output<typeof jobSpecSchema>;
export type RegionTarget = z.output<typeof regionTargetSchema>;

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
