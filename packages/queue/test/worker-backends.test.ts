// The worker's `worker started` log line names the backend each native-backed stage runs (its parts go
// to S3, so there are no local part writes to report), and why a stage falls back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadNative } from '@bundlefarm/native';
import { needsLibdeflate } from '@bundlefarm/testkit/requirements.js';
import { workerEnvironment } from './worker-environment.js';

const env = await workerEnvironment();
const TIMEOUT = { timeout: 120_000 };

async function startedRecord(extraEnv: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const w = await env.startWorker(extraEnv);
  const started = w.records().find((r) => r.msg === 'worker started');
  assert.ok(started, 'a "worker started" record');
  await w.stop();
  return started;
}

describe('the worker start log names its backends', TIMEOUT, () => {
  it('the whole addon: libdeflate, native AES, SEEK_DATA', { ...TIMEOUT, skip: needsLibdeflate() }, async () => {
    const started = await startedRecord();
    assert.deepEqual(started.backends, {
      deflate: 'libdeflate',
      libdeflateVersion: loadNative().binding!.libdeflate!,
      aes: 'native',
      holes: 'SEEK_DATA',
      reasons: {},
    });
  });

  it('BUNDLEFARM_NATIVE=off: every fallback, with the reason', TIMEOUT, async () => {
    const started = await startedRecord({ BUNDLEFARM_NATIVE: 'off' });
    const reason = 'BUNDLEFARM_NATIVE=off turns the native addon off';
    assert.deepEqual(started.backends, {
      deflate: 'zlib',
      aes: 'node:crypto',
      holes: 'read scan',
      reasons: { deflate: reason, aes: reason, holes: reason },
    });
  });
});
