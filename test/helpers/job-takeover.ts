/*
 * The set-up the self-fencing tests share (test/faults/lock-fencing: Redis cut at a TCP proxy;
 * test/faults/network-partition: a host's route to Redis deleted in its network namespace): two worker
 * processes A and B, each signing its S3 requests with a key pair of its own (the S3 front's request log
 * tells them apart); A's first part uploads held at an S3 fault proxy until B can have taken A's job
 * over; the job posted, A seen uploading, then (the test's own cut) the job followed until it finishes.
 * How a test cuts A off, and everything it asserts, stay in the test; what it checks in the S3 front's
 * log is test/faults/takeover-order.ts.
 */
import { Job, type Queue } from 'bullmq';
import type { BundleJobData, BundleJobResult } from '@bundlefarm/queue';
import { s3Requests, type FaultProxy } from './fault-proxy.js';
import { until } from './poll.js';
import { registerS3Credentials, type S3TestServer } from './s3-server.js';

export interface WorkerKeys {
  accessKeyId: string;
  secretAccessKey: string;
}

/** A fresh key pair the S3 front accepts, for one worker. */
export function workerKeys(): WorkerKeys {
  return registerS3Credentials();
}

/** The worker environment variables that make it sign with `keys` (the test worker configuration names them). */
export function workerKeysEnv(keys: WorkerKeys): Record<string, string> {
  return { TEST_S3_KEY_ID: keys.accessKeyId, TEST_S3_SECRET: keys.secretAccessKey };
}

/**
 * At `proxy` (the way A reaches S3), holds the answers to the first three part uploads into `bucket`
 * for three job locks and two seconds: B can take the job over once A's lock has expired and up to two
 * stalled checks have run (at most 3 locks after the cut), so an unfenced A would send its next parts
 * only after B has started writing.
 */
export function holdFirstPartUploads(proxy: FaultProxy, bucket: string, lockDurationMs: number): void {
  proxy.addFault({
    match: (q) => q.method === 'PUT' && q.path.includes('.part.') && s3Requests.inBucket(bucket)(q),
    times: 3,
    action: { type: 'delay', ms: 3 * lockDurationMs + 2_000 },
  });
}

/** Resolves once the S3 front has seen a part upload signed with `keys` (A is uploading its job). */
export async function untilPartUploadBy(s3: S3TestServer, keys: WorkerKeys, timeoutMs = 60_000): Promise<void> {
  await until('A to upload its first part', () => s3.requests.all.some((r) => r.accessKeyId === keys.accessKeyId && r.key?.includes('.part.')) || undefined, timeoutMs, 20);
}

/** Resolves with job `id` once it has finished (completed or failed), read from `queue`. */
export async function untilJobFinished(queue: Queue<BundleJobData, BundleJobResult>, id: string, timeoutMs = 180_000): Promise<Job<BundleJobData, BundleJobResult>> {
  return until(
    `job ${id} to finish`,
    async () => {
      const job = await Job.fromId<BundleJobData, BundleJobResult>(queue, id);
      return job?.finishedOn ? job : undefined;
    },
    timeoutMs,
    100,
  );
}
