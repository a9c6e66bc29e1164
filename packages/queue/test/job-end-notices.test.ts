// Which failed attempts end a job (and so get a notice): a permanent error or the last attempt; a
// cancel is its own end; a hand-back, a delay or a lost lock is no end at all.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DelayedError, UnrecoverableError, WaitingError } from 'bullmq';
import { endState } from '@bundlefarm/queue';

const attempt = (made: number, attempts = 3) => ({ attemptsMade: made, opts: { attempts } });
const transient = (reason: string): Error => Object.assign(new Error(reason), { name: 'TransientBundleError' });

describe('job ends', () => {
  it('a permanent error ends the job on any attempt; a transient one only on the last', () => {
    assert.equal(endState(attempt(0), new UnrecoverableError('BF_KEY_NOT_CONFIGURED: no key')), 'failed');
    assert.equal(endState(attempt(0), transient('BF_S3_UNAVAILABLE: slow down')), undefined);
    assert.equal(endState(attempt(1), transient('BF_S3_UNAVAILABLE: slow down')), undefined);
    assert.equal(endState(attempt(2), transient('BF_S3_UNAVAILABLE: slow down')), 'failed');
    assert.equal(endState(attempt(0, 1), transient('BF_S3_UNAVAILABLE: slow down')), 'failed');
  });

  it('a cancel is a cancelled end', () => {
    assert.equal(endState(attempt(0), new UnrecoverableError('BF_CANCELLED: bundle job was cancelled')), 'cancelled');
  });

  it('a hand-back, a delay or a lost lock is no end', () => {
    assert.equal(endState(attempt(2), new WaitingError()), undefined);
    assert.equal(endState(attempt(2), new DelayedError()), undefined);
    assert.equal(endState(attempt(2), transient('BF_JOB_LOCK_LOST: the worker lost the lock of job x')), undefined);
  });
});
