/*
 * Per-region failures of a failed job, as its status and its end notice report them: read from the
 * record the worker writes in the job's data (`failedRegions`), from the failure's text for a job an
 * earlier version failed, and never from a record that is not what a worker writes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Job } from 'bullmq';
import { BundlefarmError } from '@bundlefarm/errors';
import { jobNotice, regionFailureRecord, toBundleStatus, type BundleJobData, type BundleJobResult, type RegionFailure } from '@bundlefarm/queue';
import { RegionsFailedError, toJobFailure } from '@bundlefarm/queue/worker';

const REGIONS = [
  { region: 'us-east-1', bucket: 'amis-use1', prefix: '' },
  { region: 'eu-west-1', bucket: 'amis-euw1', prefix: '' },
  { region: 'us-west-2', bucket: 'amis-usw2', prefix: '' },
];

const unavailable = new BundlefarmError('BF_S3_UNAVAILABLE', 'S3 did not answer', true);
const denied = new BundlefarmError('BF_S3_ACCESS_DENIED', 'access denied; PutObject', false);
const failed = new RegionsFailedError(
  new Map([
    ['us-east-1', unavailable],
    ['eu-west-1', denied],
  ]),
  ['us-west-2'],
);
/** The failedReason BullMQ stores for the failure, as the worker throws it. */
const reason = toJobFailure(failed).message;

/** A failed job as BullMQ hands it back from Redis (only what the status reads). */
function failedJob(data: Record<string, unknown>, failedReason: string, regions = REGIONS): Job<BundleJobData, BundleJobResult> {
  return {
    id: 'job-1',
    name: 'os',
    data: { spec: { image: 's3://images/os.img', architecture: 'x86_64', regions }, source: 'api', ...data },
    failedReason,
    progress: null,
    returnvalue: null,
    attemptsMade: 1,
    attemptsStarted: 1,
    opts: { attempts: 1 },
    timestamp: 1_700_000_000_000,
    processedOn: 1_700_000_000_500,
    finishedOn: 1_700_000_001_000,
  } as unknown as Job<BundleJobData, BundleJobResult>;
}

function regionErrors(job: Job<BundleJobData, BundleJobResult>): Record<string, { code: string; message: string; transient: boolean } | undefined> {
  const status = toBundleStatus(job, 'failed');
  return Object.fromEntries(status.regions.map((r) => [r.region, r.error ? { code: r.error.code, message: r.error.message, transient: r.error.transient } : undefined]));
}

const fromText = {
  'us-east-1': { code: 'BF_S3_UNAVAILABLE', message: 'S3 did not answer', transient: false },
  'eu-west-1': { code: 'BF_S3_ACCESS_DENIED', message: 'access denied; PutObject', transient: false },
  'us-west-2': undefined,
};

describe('region failures as data', () => {
  it('the status reads each failed region from the record the worker wrote, retryable included', () => {
    const record = regionFailureRecord(failed.regions);
    assert.deepEqual(record, {
      'us-east-1': { code: 'BF_S3_UNAVAILABLE', message: 'S3 did not answer', retryable: true },
      'eu-west-1': { code: 'BF_S3_ACCESS_DENIED', message: 'access denied; PutObject', retryable: false },
    });
    // a message with "; region: BF_…" in it would confuse the text; the record is read as it is
    const tricky: Record<string, RegionFailure> = { ...record, 'eu-west-1': { code: 'BF_S3_ACCESS_DENIED', message: 'denied; us-west-2: BF_X: y', retryable: false } };
    assert.deepEqual(regionErrors(failedJob({ failedRegions: tricky }, reason)), {
      'us-east-1': { code: 'BF_S3_UNAVAILABLE', message: 'S3 did not answer', transient: true },
      'eu-west-1': { code: 'BF_S3_ACCESS_DENIED', message: 'denied; us-west-2: BF_X: y', transient: false },
      'us-west-2': undefined,
    });
  });

  it('a job failed by an earlier version (no record) is read from its failure text', () => {
    assert.deepEqual(regionErrors(failedJob({}, reason)), fromText);
  });

  it('a record that is not what a worker writes is ignored (the failure text is read instead)', () => {
    const good = { code: 'BF_S3_UNAVAILABLE', message: 'made up', retryable: true };
    const hostile: unknown[] = [
      'BF_S3_UNAVAILABLE: made up',
      ['us-east-1'],
      null,
      { 'us-east-1': null },
      { 'us-east-1': { ...good, retryable: 'yes' } },
      { 'us-east-1': { ...good, extra: 'field' } },
      { 'us-east-1': { ...good, code: 'S3_UNAVAILABLE' } },
      { 'us-east-1': { code: 'BF_S3_UNAVAILABLE', message: 'no retryable' } },
      { 'us-east-1': { ...good, message: 'x'.repeat(100_000) } },
      { 'us-east-1': good, 'ap-south-1': good },
      JSON.parse(`{ "__proto__": { "code": "BF_X", "message": "m", "retryable": true }, "us-east-1": ${JSON.stringify(good)} }`),
    ];
    for (const failedRegions of hostile) {
      assert.deepEqual(regionErrors(failedJob({ failedRegions }, reason)), fromText, JSON.stringify(failedRegions)?.slice(0, 200));
    }
  });

  it('a record that does not agree with the failure (left by an earlier attempt) is not this failure', () => {
    const record = regionFailureRecord(failed.regions);
    // the job was cancelled after an attempt failed regions: no region is reported failed for it
    assert.deepEqual(regionErrors(failedJob({ failedRegions: record }, 'BF_CANCELLED: the bundle job was cancelled')), {
      'us-east-1': undefined,
      'eu-west-1': undefined,
      'us-west-2': undefined,
    });
    // a one-region job reports its region's own error: a record of another code is not it
    const one = [REGIONS[0]!];
    const stale = { 'us-east-1': { code: 'BF_S3_UNAVAILABLE', message: 'earlier', retryable: true } };
    assert.deepEqual(regionErrors(failedJob({ failedRegions: stale }, 'BF_IMAGE_NOT_FOUND: no such image', one)), {
      'us-east-1': { code: 'BF_IMAGE_NOT_FOUND', message: 'no such image', transient: false },
    });
    assert.deepEqual(regionErrors(failedJob({ failedRegions: stale }, 'BF_S3_UNAVAILABLE: earlier', one)), {
      'us-east-1': { code: 'BF_S3_UNAVAILABLE', message: 'earlier', transient: true },
    });
  });

  it("the job's end notice names each failed region from the record, and nothing from a hostile one", () => {
    const notice = (failedRegions: unknown) =>
      jobNotice({ id: 'job-1', data: failedJob({ failedRegions }, reason).data, state: 'failed', failedReason: reason, at: new Date(0) });
    const good = notice(regionFailureRecord(failed.regions));
    assert.deepEqual(good.error?.code, 'BF_REGIONS_FAILED');
    assert.deepEqual(
      good.regions.map((r) => r.error),
      [{ code: 'BF_S3_UNAVAILABLE', message: 'S3 did not answer' }, { code: 'BF_S3_ACCESS_DENIED', message: 'access denied; PutObject' }, undefined],
    );
    const forged = notice({ 'us-east-1': { code: 'BF_S3_UNAVAILABLE', message: 'made up', retryable: true, details: { url: 'https://evil' } } });
    assert.deepEqual(
      forged.regions.map((r) => r.error),
      [undefined, undefined, undefined],
    );
  });

  it('a recorded failure counts only for a region the failure text names as failed', () => {
    const record = regionFailureRecord(failed.regions);
    const forged = { code: 'BF_S3_ACCESS_DENIED', message: 'made up', retryable: false };
    // the text says us-west-2 was published: a record saying it failed is not believed there, the others are
    const status = regionErrors(failedJob({ failedRegions: { ...record, 'us-west-2': forged } }, reason));
    assert.deepEqual(status, {
      'us-east-1': { code: 'BF_S3_UNAVAILABLE', message: 'S3 did not answer', transient: true },
      'eu-west-1': { code: 'BF_S3_ACCESS_DENIED', message: 'access denied; PutObject', transient: false },
      'us-west-2': undefined,
    });
    // a record of only regions the text does not name: nothing of it counts (the text is read instead)
    assert.deepEqual(regionErrors(failedJob({ failedRegions: { 'us-west-2': forged } }, reason)), fromText);
    const notice = jobNotice({ id: 'job-1', data: failedJob({ failedRegions: { 'us-west-2': forged } }, reason).data, state: 'failed', failedReason: reason, at: new Date(0) });
    assert.deepEqual(notice.regions.map((r) => r.error), [undefined, undefined, undefined]);
  });

  it('no failure is shown for a region that published its manifest (status and notice alike), but for its registration', () => {
    const record = regionFailureRecord(failed.regions);
    const publishedAt = (region: string) => ({ region, bucket: 'b', manifestKey: 'os.manifest.xml', partKeys: ['os.part.0'] });
    const data = failedJob({ failedRegions: record, completedRegions: { 'us-east-1': publishedAt('us-east-1') } }, reason).data;
    const expected = [undefined, { code: 'BF_S3_ACCESS_DENIED', message: 'access denied; PutObject' }, undefined];
    const status = toBundleStatus(failedJob({ failedRegions: record, completedRegions: { 'us-east-1': publishedAt('us-east-1') } }, reason), 'failed');
    assert.deepEqual(status.regions.map((r) => (r.error ? { code: r.error.code, message: r.error.message } : undefined)), expected);
    assert.equal(status.regions[0]!.stage, 'published');
    const notice = jobNotice({ id: 'job-1', data, state: 'failed', failedReason: reason, at: new Date(0) });
    assert.deepEqual(notice.regions.map((r) => r.error), expected);
    assert.equal(notice.regions[0]!.manifestKey, 'os.manifest.xml');

    // a published region asking for an AMI it does not have: its failure (the registration's) is shown by both
    const registering = REGIONS.map((r) => (r.region === 'us-east-1' ? { ...r, register: { name: 'os-ami' } } : r));
    const job = failedJob({ failedRegions: record, completedRegions: { 'us-east-1': publishedAt('us-east-1') } }, reason, registering);
    const withAmi = [{ code: 'BF_S3_UNAVAILABLE', message: 'S3 did not answer' }, expected[1], undefined];
    assert.deepEqual(toBundleStatus(job, 'failed').regions.map((r) => (r.error ? { code: r.error.code, message: r.error.message } : undefined)), withAmi);
    assert.deepEqual(jobNotice({ id: 'job-1', data: job.data, state: 'failed', failedReason: reason, at: new Date(0) }).regions.map((r) => r.error), withAmi);
  });
});
