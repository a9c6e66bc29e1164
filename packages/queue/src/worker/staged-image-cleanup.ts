/*
 * Removes a job's staged image (an image a client uploaded through `POST /v1/uploads`) once the job
 * ended: completed, failed for good, or cancelled. Job data in Redis is untrusted, so the object is
 * deleted only when every one of these holds:
 *
 * - the worker has a staging area configured (BUNDLEFARM_STAGING / `staging`), and the job's image is
 *   exactly `s3://BUCKET/PREFIX/<principal>/<uuid>/<file>` inside it (staging-area.ts);
 * - `<principal>` is the job's own principal, and the job passed the worker's authorization (MAC,
 *   principal, scope) — a job refused there never makes the worker touch S3;
 * - the object carries the mark `x-amz-meta-bundlefarm-upload: <uuid>` that only the API sets.
 *
 * Anything else (an image outside staging, a hand-put object under the prefix, another principal's
 * upload) is left alone and said in the log. Best effort: a failed delete never fails the job (an S3
 * lifecycle rule on the prefix removes what is left; see docs/service.md).
 */
import { deleteStagedObject, headStagedObject, type RetryOptions } from '@bundlefarm/s3';
import { stagedImageOf, type StagingArea } from '../staging/staging-area.js';
import type { S3ClientLike } from './region-clients.js';
import type { WorkerLogger } from './worker-logger.js';

export type StagedImageOutcome = 'deleted' | 'not-staged' | 'other-principal' | 'unmarked' | 'gone' | 'failed';

export async function removeStagedImage(
  staging: StagingArea | undefined,
  image: unknown,
  principal: string | undefined,
  client: () => S3ClientLike,
  log: WorkerLogger,
  retry?: RetryOptions,
): Promise<StagedImageOutcome> {
  if (staging === undefined) return 'not-staged';
  const staged = stagedImageOf(staging, image);
  if (!staged) return 'not-staged';
  if (staged.principal !== principal) {
    log.warn({ image, principal }, "not deleting the staged image: it is another principal's upload");
    return 'other-principal';
  }
  const object = { bucket: staged.bucket, key: staged.key };
  try {
    const head = await headStagedObject(client(), object, { ...(retry ? { retry } : {}) });
    if (!head) return 'gone';
    if (head.mark !== staged.uploadId) {
      log.warn({ image }, 'not deleting the staged image: it does not carry the mark of its upload (not uploaded through the API)');
      return 'unmarked';
    }
    await deleteStagedObject(client(), object, { ...(retry ? { retry } : {}) });
    log.info({ image }, 'deleted the staged image');
    return 'deleted';
  } catch (err) {
    log.warn({ image, err }, 'could not delete the staged image (the lifecycle rule of the staging prefix will)');
    return 'failed';
  }
}
