/*
 * The timing argument of docs/service.md ("Redis outages and job locks", "Self-fencing"), checked on
 * the settings the worker derives from its lock duration `L`, for short test locks up to hour-long ones:
 *
 * - a Redis outage of `L/2` starting just before a renewal is due ends with the renewal landing before
 *   the lock runs out: renewal gap + `L/2` + reconnect delay < `L`, with room for a connection set-up;
 * - the same outage does not make the worker fence itself: fence renewal gap + `L/2` + reconnect delay
 *   < the fence bound;
 * - the fence stops the worker's writes before the lock can have run out: fence bound < `L`, by `L/8`;
 * - the reconnect delay never grows past its cap, however long Redis stays away.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lockSafeReconnect, reconnectDelayMs } from '@bundlefarm/queue';
import { fenceAfterMs, lockRenewTimeMs } from '@bundlefarm/queue/worker';

const LOCKS = [1_000, 5_000, 8_000, 10_000, 12_000, 30_000, 60_000, 600_000, 3_600_000];

describe('lock timing', () => {
  for (const lock of LOCKS) {
    it(`a lock of ${lock} ms`, () => {
      const { maxReconnectDelayMs, connectTimeoutMs } = lockSafeReconnect(lock);
      const outage = lock / 2;
      // BullMQ renews every lockRenewTime/2, at most every lockRenewTime
      const renewalGap = lockRenewTimeMs(lock);
      const setUpRoom = lock - (renewalGap + outage + maxReconnectDelayMs);
      assert.ok(setUpRoom >= lock / 8, `room for the connection set-up after an outage: ${setUpRoom} ms`);
      // the fence renews every L/8
      const fenceRoom = fenceAfterMs(lock) - (lock / 8 + outage + maxReconnectDelayMs);
      assert.ok(fenceRoom > 0, `an outage of L/2 does not fence: ${fenceRoom} ms to spare`);
      assert.ok(lock - fenceAfterMs(lock) >= Math.floor(lock / 8), 'the fence comes L/8 before the lock can run out');
      assert.ok(connectTimeoutMs <= 10_000 && connectTimeoutMs >= 1_000);
    });
  }

  it('the reconnect delay starts small and stays under its cap', () => {
    assert.equal(reconnectDelayMs(1), 50);
    for (let attempt = 1; attempt < 1_000; attempt++) {
      assert.ok(reconnectDelayMs(attempt) <= 1_000);
      assert.ok(reconnectDelayMs(attempt, 250) <= 250);
    }
    assert.equal(reconnectDelayMs(1_000), 1_000);
  });
});
