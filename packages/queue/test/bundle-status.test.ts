import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BundlefarmError } from '@bundlefarm/errors';
import { parseFailure, regionFailuresFromText, type ReplacedBundle } from '@bundlefarm/queue';
import { RegionsFailedError, replacementNote } from '@bundlefarm/queue/worker';

/** A failed job's per-region errors, as the producer reads them back from the failure of a job failed by an earlier version. */
describe('regionFailuresFromText', () => {
  const replaced: ReplacedBundle = {
    manifest: 's3://amis/os/v1/os-v1.manifest.xml',
    removed: ['s3://amis/os/v1/os-v1.manifest.xml', 's3://amis/os/v1/os-v1.part.0'],
  };
  const failed = new RegionsFailedError(
    new Map<string, BundlefarmError>([
      ['us-east-1', new BundlefarmError('BF_S3_UNAVAILABLE', 'S3 did not answer', true)],
      ['eu-west-1', new BundlefarmError('BF_S3_ACCESS_DENIED', 'access denied; PutObject', false)],
    ]),
    ['us-west-2'],
  );

  it('reads each region back, and the note on what a replacing job removed stays out of them', () => {
    for (const error of [failed, replacementNote(failed, [replaced])]) {
      const failure = parseFailure(`${error.code}: ${error.message}`);
      assert.deepEqual(regionFailuresFromText(failure, ['us-east-1', 'eu-west-1', 'us-west-2']), {
        'us-east-1': { code: 'BF_S3_UNAVAILABLE', message: 'S3 did not answer', retryable: false },
        'eu-west-1': { code: 'BF_S3_ACCESS_DENIED', message: 'access denied; PutObject', retryable: false },
      });
    }
  });

  it('the note names every object removed, keeps the code and the transient flag', () => {
    const noted = replacementNote(failed, [replaced]);
    assert.equal(noted.code, 'BF_REGIONS_FAILED');
    assert.equal(noted.transient, true);
    assert.ok(noted.message.endsWith('this job had removed 2 objects: s3://amis/os/v1/os-v1.manifest.xml, s3://amis/os/v1/os-v1.part.0'), noted.message);
    assert.equal(replacementNote(failed, []), failed, 'nothing removed: the failure as it was');
  });
});
