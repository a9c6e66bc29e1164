/**
 * The API's response bodies, once: zod schemas give the TypeScript types the routes must return and
 * the JSON Schemas of /openapi.json. Compile-time checks at the end keep them in step with the
 * producer's types.
 */
import { DEFAULT_LIST_LIMIT, jobSpecSchema, KNOWN_REGIONS, LIST_STATES, MAX_LIST_LIMIT, type BundleStatus, type CancelResult, type JobCounts, type JobLog, type JobPage, type RetryResult } from '@bundlefarm/queue';
import { z } from 'zod';

export const errorDetailsSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]));

export const specProblemSchema = z.object({
  /** Dotted path of the field (`regions.0.bucket`), `(body)` for the whole body. */
  path: z.string(),
  message: z.string(),
});

export const errorBodySchema = z
  .object({
    /** Stable error code (BF_…). */
    error: z.string(),
    message: z.string(),
    /** Every problem of a job spec (BF_BAD_SPEC, BF_RULE_SPEC_INVALID). */
    problems: z.array(specProblemSchema).optional(),
    details: errorDetailsSchema.optional(),
  });

export const enqueueResponseSchema = z
  .object({
    id: z.string(),
    /** Bundle name (the job's name). */
    name: z.string(),
    /** False when an earlier request with the same Idempotency-Key / delivery made this job. */
    created: z.boolean(),
    /** Where to follow it: GET this path. */
    statusUrl: z.string(),
  });

const serializedErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  transient: z.boolean(),
  details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null(), z.undefined()])),
});

const regionStageSchema = z.enum(['pending', 'uploading', 'published', 'failed', 'skipped']);

const progressSchema = z.object({
  stage: z.enum(['queued', 'preflight', 'building-filesystem', 'bundling', 'uploading', 'publishing', 'done']),
  percent: z.number(),
  bytesIn: z.number(),
  totalIn: z.number(),
  bytesOut: z.number(),
  partsDone: z.number(),
  partsTotal: z.number().optional(),
  regions: z.record(z.string(), z.object({ stage: regionStageSchema, partsDone: z.number() })),
  filesystem: z
    .object({
      phase: z.enum(['scanning', 'writing', 'finishing', 'done']),
      entries: z.number(),
      fileBytes: z.number(),
    })
    .optional()
    .describe('jobs with "filesystem": where the build of the ext4 image from the tree or tarball is'),
});

/** A bundle someone else had published at a target, replaced by the job (`replace: true`). */
const replacedBundleSchema = z.object({
  manifest: z.string().describe('s3:// URL of its manifest, withdrawn just before the first part of the new bundle went there'),
  owner: z.string().optional().describe('the job that had published it (absent: not bundlefarm)'),
  parts: z.array(z.string()).optional().describe('s3:// URLs of the parts its manifest named'),
  removed: z.array(z.string()).describe('s3:// URLs of its objects the job removed: the manifest, and parts deleted or overwritten'),
});

const regionResultSchema = z.object({
  region: z.string(),
  bucket: z.string(),
  manifestKey: z.string().optional(),
  partKeys: z.array(z.string()).optional(),
  error: serializedErrorSchema.optional(),
  replaced: replacedBundleSchema.optional(),
  imageId: z.string().optional().describe('the AMI the bundle is registered as (targets with register)'),
  imageName: z.string().optional().describe('the AMI name'),
});

const resultSchema = z.object({
  name: z.string(),
  digest: z.string(),
  size: z.number(),
  bundledSize: z.number(),
  parts: z.number(),
  seconds: z.number(),
  regions: z.record(z.string(), regionResultSchema),
  uploadRetries: z.number(),
  repeated: z.literal(true).optional().describe('the job had completed before (a retry of a completed job); metrics did not count it again'),
});

export const bundleStatusSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    state: z
      .enum(['waiting', 'delayed', 'prioritized', 'waiting-children', 'active', 'completed', 'failed', 'cancelled', 'unknown'])
      .describe('cancelled: stopped by a user while it ran (never counted as failed)'),
    finished: z.boolean(),
    source: z.string(),
    delivery: z.string().optional(),
    /** The principal that enqueued the job (its name). */
    principal: z.string().optional(),
    spec: jobSpecSchema,
    progress: progressSchema.nullable(),
    result: resultSchema.nullable(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    attempts: z.object({ made: z.number(), started: z.number(), max: z.number() }),
    regions: z.array(
      z.object({
        region: z.string(),
        bucket: z.string(),
        prefix: z.string(),
        stage: regionStageSchema,
        partsDone: z.number(),
        manifestKey: z.string().optional(),
        partKeys: z.array(z.string()).optional(),
        error: serializedErrorSchema.optional(),
        replaced: replacedBundleSchema.optional(),
        imageId: z.string().optional().describe('the AMI the bundle is registered as (targets with register), once registered'),
        imageName: z.string().optional(),
      }),
    ),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  });

export const cancelResponseSchema = z
  .object({
    id: z.string(),
    outcome: z.enum(['removed', 'cancelling']),
    previousState: bundleStatusSchema.shape.state,
  });

export const retryResponseSchema = z
  .object({
    id: z.string(),
    state: bundleStatusSchema.shape.state,
    keptRegions: z.array(z.string()),
  });

export const queueResponseSchema = z
  .object({
    queue: z.string(),
    counts: z.object({
      waiting: z.number(),
      active: z.number(),
      delayed: z.number(),
      prioritized: z.number(),
      'waiting-children': z.number(),
      completed: z.number(),
      failed: z.number().describe('failed jobs, not counting the cancelled ones'),
      cancelled: z.number().describe('jobs a user cancelled while they ran'),
    }),
  });

/** GET /v1/bundles: which jobs, how many. */
export const listQuerySchema = z
  .object({
    state: z
      .string()
      .optional()
      .describe(`comma-separated states to list (${LIST_STATES.join(', ')}); default all`)
      .transform((s, ctx) => {
        if (s === undefined || s === '') return undefined;
        const states = s.split(',').map((x) => x.trim());
        const unknown = states.filter((x) => !(LIST_STATES as readonly string[]).includes(x));
        if (unknown.length > 0) ctx.addIssue({ code: 'custom', message: `unknown state ${JSON.stringify(unknown[0])}: one of ${LIST_STATES.join(', ')}` });
        return states as Array<(typeof LIST_STATES)[number]>;
      }),
    limit: z.coerce.number().int().min(1).max(MAX_LIST_LIMIT).default(DEFAULT_LIST_LIMIT).describe(`jobs per page, 1-${MAX_LIST_LIMIT}`),
    cursor: z.string().max(400).optional().describe('nextCursor of the previous page'),
  })
  .strict();

export const jobSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  state: bundleStatusSchema.shape.state,
  finished: z.boolean(),
  source: z.string(),
  principal: z.string().optional(),
  regions: z.array(z.string()).describe("the spec's regions, in its order"),
  percent: z.number().nullable(),
  stage: progressSchema.shape.stage.nullable(),
  error: z
    .object({ code: z.string(), message: z.string() })
    .nullable()
    .describe('why it failed or was cancelled; BF_JOB_DATA_INVALID for a job whose stored data is not a job of this service'),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
});

export const listResponseSchema = z.object({
  jobs: z.array(jobSummarySchema).describe('newest first; only jobs the caller may see'),
  nextCursor: z.string().nullable().describe('pass as ?cursor= for the next page; null on the last'),
});

export const logResponseSchema = z.object({
  id: z.string(),
  lines: z.array(z.string()).describe('what the workers noted, oldest first, from ?offset= on'),
  next: z.number().describe('pass as ?offset= to get only newer lines'),
  total: z.number(),
  state: bundleStatusSchema.shape.state,
  finished: z.boolean(),
});

export const uploadPartSchema = z.object({
  partNumber: z.number(),
  size: z.number().describe('bytes of the image in this part: from (partNumber - 1) * partSize'),
  etag: z.string().optional().describe('the part is stored already, with this ETag (the MD5 of its bytes): not to be sent again'),
  url: z.string().optional().describe('presigned URL to PUT the bytes to (send Content-MD5; no Authorization header)'),
});

export const uploadResponseSchema = z.object({
  id: z.string().describe('upload id (a UUID)'),
  image: z.string().describe('the job image once complete: s3://BUCKET/PREFIX/<principal>/<id>/<filename>'),
  filename: z.string(),
  size: z.number(),
  multipart: z.boolean().describe('false: one PUT (part 1 of 1); true: a multipart upload'),
  partSize: z.number(),
  completed: z.boolean().describe('the object is complete: nothing left to send'),
  expiresAt: z.string().describe('when the URLs stop working (GET the upload again for fresh ones)'),
  parts: z.array(uploadPartSchema),
  completeUrl: z.string().describe('POST { parts: [{ partNumber, etag }] } here once every part is sent'),
});

export const completedUploadSchema = z.object({
  id: z.string(),
  image: z.string().describe('s3:// URL to enqueue the job with'),
  size: z.number(),
});

export const healthResponseSchema = z.object({ ok: z.literal(true) });
export const readyResponseSchema = z.object({ ok: z.boolean(), redis: z.enum(['up', 'down']) });

export const webhookResponseSchema = z
  .union([
    enqueueResponseSchema.extend({ rule: z.string() }),
    z.object({ ignored: z.literal(true), reason: z.string() }),
  ]);

export type ErrorBody = z.infer<typeof errorBodySchema>;
export type EnqueueResponse = z.infer<typeof enqueueResponseSchema>;
export type BundleStatusResponse = z.infer<typeof bundleStatusSchema>;
export type CancelResponse = z.infer<typeof cancelResponseSchema>;
export type RetryResponse = z.infer<typeof retryResponseSchema>;
export type QueueResponse = z.infer<typeof queueResponseSchema>;
export type ListResponse = z.infer<typeof listResponseSchema>;
export type LogResponse = z.infer<typeof logResponseSchema>;
export type UploadResponse = z.infer<typeof uploadResponseSchema>;
export type CompletedUploadResponse = z.infer<typeof completedUploadSchema>;
export type HealthResponse = z.infer<typeof healthResponseSchema>;
export type ReadyResponse = z.infer<typeof readyResponseSchema>;
export type WebhookResponse = z.infer<typeof webhookResponseSchema>;

/** The JSON Schema of a job spec as clients send it, with the regions spelled out. */
export function jobSpecJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(jobSpecSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete schema.$schema;
  const region = (((schema.properties as Record<string, Record<string, unknown>>).regions!.items as Record<string, unknown>).properties as Record<
    string,
    Record<string, unknown>
  >).region!;
  region.enum = [...KNOWN_REGIONS];
  return schema;
}

/** JSON Schema of a response body, for route schemas (documentation only: responses are not re-serialized). */
export function responseJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any', reused: 'inline' }) as Record<string, unknown>;
  delete json.$schema;
  delete json.id;
  return json;
}

// Compile-time checks: what the producer returns is what the schemas promise.
type Assignable<T, U extends T> = U;
export type _StatusMatches = Assignable<BundleStatusResponse, BundleStatus>;
export type _CancelMatches = Assignable<CancelResponse, CancelResult>;
export type _RetryMatches = Assignable<RetryResponse, RetryResult>;
export type _CountsMatch = Assignable<QueueResponse['counts'], JobCounts>;
export type _ListMatches = Assignable<ListResponse, JobPage>;
export type _LogMatches = Assignable<LogResponse, JobLog>;
