import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { ThreadPool } from '@bundlefarm/engine';
import { WorkerMetrics } from '@bundlefarm/queue/worker';
import { createS3Client, withRetry, checkRetryOptions } from '@bundlefarm/s3';
import { s3Requests, startFaultProxy } from '@bundlefarm/testkit/fault-proxy.js';
import { pseudoRandom } from '@bundlefarm/testkit/images.js';
import { parseExposition } from '@bundlefarm/testkit/prometheus-text.js';
import { registerS3Credentials, startS3Server } from '@bundlefarm/testkit/s3-server.js';

/**
 * WorkerMetrics' S3 middleware on a real S3 client, against s3rver behind the fault proxy: what a part
 * PUT that S3 refuses once, then accepts, leaves in the metrics — both when the SDK retries it and when
 * bundlefarm's own retry loop sends it again. And the pool's busy time, from real pool tasks.
 */
const s3 = await startS3Server();
const proxy = await startFaultProxy({ target: s3.endpoint });
const credentials = registerS3Credentials();
const pool = new ThreadPool({ threads: 1 });
after(async () => {
  await pool.close();
  await proxy.close();
  await govProxy.close();
  await s3.stop();
});
await s3.createBucket('metrics');
// the S3 front checks the signing region against the bucket's, as S3 does
await s3.createBucket('metrics-gov', { region: 'us-gov-west-1' });
// GovCloud has endpoints of its own (as in S3): a proxy in front of the front's us-gov-west-1 endpoint
const govProxy = await startFaultProxy({ target: s3.endpointFor('us-gov-west-1') });

function metricsOf(m: WorkerMetrics) {
  return m.registry.metrics().then(parseExposition);
}

describe('WorkerMetrics', () => {
  it('times every part PUT S3 accepts, counts its bytes, and counts a PUT sent again after a failure as a retry', async () => {
    const metrics = new WorkerMetrics({ pool, slots: 1, running: () => 0 });
    after(() => metrics.close());
    const part = pseudoRandom(256 * 1024, 7);
    const md5 = createHash('md5').update(part).digest('base64');
    const put = (client: ReturnType<typeof createS3Client>, key: string, bucket = 'metrics') =>
      client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: part, ContentLength: part.length, ContentMD5: md5 }));

    // the SDK retries the 503 itself (its own attempts, inside one send)
    const sdkRetrying = createS3Client({ region: 'us-east-1', endpoint: proxy.endpoint, forcePathStyle: true, credentials, maxAttempts: 3 });
    metrics.instrumentS3Client(sdkRetrying, 'us-east-1');
    proxy.addFault({ match: (r) => s3Requests.putObject(r) && r.path.endsWith('.part.0'), action: { type: 'status', status: 503 }, times: 1 });
    await put(sdkRetrying, 'b/img.part.0');

    // bundlefarm's retry loop sends it again (an SDK that does not retry)
    const oneShot = createS3Client({ region: 'us-gov-west-1', endpoint: govProxy.endpoint, forcePathStyle: true, credentials, maxAttempts: 1 });
    metrics.instrumentS3Client(oneShot, 'us-gov-west-1');
    govProxy.addFault({ match: (r) => s3Requests.putObject(r) && r.path.endsWith('.part.1'), action: { type: 'status', status: 500 }, times: 1 });
    const policy = checkRetryOptions({ attempts: 3, baseDelayMs: 1, maxDelayMs: 5 });
    await withRetry({ policy, operation: 'PutObject', bucket: 'metrics-gov', key: 'b/img.part.1' }, () => put(oneShot, 'b/img.part.1', 'metrics-gov'));
    // a manifest and a part that goes through at once: not retries
    await oneShot.send(new PutObjectCommand({ Bucket: 'metrics-gov', Key: 'b/img.manifest.xml', Body: 'x' }));
    await put(oneShot, 'b/img.part.2', 'metrics-gov');

    const m = await metricsOf(metrics);
    assert.equal(m.value('bundlefarm_worker_part_upload_retries_total', { region: 'us-east-1' }), 1, 'the SDK retry');
    assert.equal(m.value('bundlefarm_worker_part_upload_retries_total', { region: 'us-gov-west-1' }), 1, "bundlefarm's retry");
    assert.equal(m.value('bundlefarm_worker_part_upload_duration_seconds_count', { region: 'us-east-1' }), 1, 'one accepted part PUT');
    assert.equal(m.value('bundlefarm_worker_part_upload_duration_seconds_count', { region: 'us-gov-west-1' }), 2, 'two accepted part PUTs, the manifest not among them');
    assert.equal(m.value('bundlefarm_worker_uploaded_bytes_total', { region: 'us-east-1' }), part.length);
    assert.equal(m.value('bundlefarm_worker_uploaded_bytes_total', { region: 'us-gov-west-1' }), 2 * part.length);
    assert.equal(m.value('bundlefarm_worker_s3_requests_total', { operation: 'PutObject', outcome: 'error' }), 2);
    assert.equal(m.value('bundlefarm_worker_s3_requests_total', { operation: 'PutObject', outcome: 'ok' }), 4);
    sdkRetrying.destroy();
    oneShot.destroy();
  });

  it('counts the pool\'s busy thread time from its tasks, and a cancel as cancelled, not failed', async () => {
    const metrics = new WorkerMetrics({ pool, slots: 2, running: () => 1 });
    after(() => metrics.close());
    const before = (await metricsOf(metrics)).value('bundlefarm_worker_pool_busy_seconds_total')!;
    for (let i = 0; i < 4; i++) await pool.sha1({ data: pseudoRandom(4 * 1024 * 1024, i) });
    assert.equal(pool.activity.busy, 0, 'nothing runs once the tasks are done');
    const m = await metricsOf(metrics);
    assert.ok(m.value('bundlefarm_worker_pool_busy_seconds_total')! > before, 'busy time counted');
    assert.equal(m.value('bundlefarm_worker_jobs_running'), 1);
    assert.equal(m.value('bundlefarm_worker_job_slots'), 2);
    const ratio = m.value('bundlefarm_worker_pool_busy_ratio')!;
    assert.ok(ratio >= 0 && ratio <= 1, `ratio ${ratio}`);

    metrics.jobStarted('j1');
    metrics.jobFailed('j1', 'BF_CANCELLED: bundle job was cancelled');
    metrics.jobStarted('j2');
    metrics.jobFailed('j2', 'BF_S3_UNAVAILABLE: S3 is down');
    const after2 = await metricsOf(metrics);
    assert.equal(after2.value('bundlefarm_worker_jobs_cancelled_total'), 1);
    assert.equal(after2.value('bundlefarm_worker_jobs_failed_total', { code: 'BF_CANCELLED' }), undefined);
    assert.equal(after2.value('bundlefarm_worker_jobs_failed_total', { code: 'BF_S3_UNAVAILABLE' }), 1);
  });
});
