// engineBackends(): which implementation each native-backed stage runs, and why a fallback is in use.
// BUNDLEFARM_NATIVE=off turns every stage to its fallback; BUNDLEFARM_DEFLATE=zlib only the deflate
// stage (before BUNDLEFARM_NATIVE existed, it turned the whole addon off).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deflatePreference, engineBackends, formatBackends, resolveBackend } from '@bundlefarm/engine';
import { loadNative } from '@bundlefarm/native';
import { needsLibdeflate, needsNative } from '@bundlefarm/testkit/requirements.js';

function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (v: Record<string, string | undefined>): void => {
    for (const [k, value] of Object.entries(v)) {
      if (value === undefined) delete process.env[k];
      else process.env[k] = value;
    }
  };
  apply(vars);
  try {
    return fn();
  } finally {
    apply(saved);
  }
}

const neither = { BUNDLEFARM_NATIVE: undefined, BUNDLEFARM_DEFLATE: undefined };

describe('engine backends', () => {
  it('with the whole addon: libdeflate, native AES, SEEK_DATA, O_DIRECT, no fallback reasons', { skip: needsLibdeflate() }, () => {
    withEnv(neither, () => {
      const b = engineBackends();
      assert.deepEqual(b, {
        deflate: 'libdeflate',
        libdeflateVersion: loadNative().binding!.libdeflate!,
        aes: 'native',
        holes: 'SEEK_DATA',
        partWrites: 'O_DIRECT',
        reasons: {},
      });
      assert.equal(formatBackends(b), `deflate: libdeflate ${b.libdeflateVersion}, aes: native, holes: SEEK_DATA, part writes: O_DIRECT`);
      assert.equal(resolveBackend('auto').name, 'libdeflate');
    });
  });

  it('BUNDLEFARM_DEFLATE=zlib: zlib deflate only; AES, holes and part writes stay native', { skip: needsNative() }, () => {
    withEnv({ ...neither, BUNDLEFARM_DEFLATE: 'zlib' }, () => {
      const b = engineBackends();
      assert.equal(formatBackends(b), 'deflate: zlib, aes: native, holes: SEEK_DATA, part writes: O_DIRECT');
      assert.deepEqual(b.reasons, { deflate: 'BUNDLEFARM_DEFLATE=zlib' });
      assert.equal(resolveBackend('auto').name, 'zlib');
      assert.equal(deflatePreference(), 'zlib');
    });
  });

  it('BUNDLEFARM_NATIVE=off: every stage falls back, each saying why', () => {
    withEnv({ ...neither, BUNDLEFARM_NATIVE: 'off' }, () => {
      const b = engineBackends();
      assert.equal(formatBackends(b), 'deflate: zlib, aes: node:crypto, holes: read scan, part writes: buffered');
      for (const stage of ['deflate', 'aes', 'holes', 'partWrites'] as const) {
        assert.match(b.reasons[stage] ?? '', /BUNDLEFARM_NATIVE=off/, stage);
      }
      assert.equal(resolveBackend('auto').name, 'zlib');
      assert.throws(() => resolveBackend('libdeflate'), /libdeflate backend unavailable: BUNDLEFARM_NATIVE=off/);
    });
  });

  it('a process whose parts go to S3 reports no part writes', () => {
    const b = engineBackends({ sink: 's3' });
    assert.equal(b.partWrites, undefined);
    assert.equal(b.reasons.partWrites, undefined);
    assert.doesNotMatch(formatBackends(b), /part writes/);
  });

  it('refuses a BUNDLEFARM_DEFLATE it does not know, naming it', () => {
    withEnv({ BUNDLEFARM_DEFLATE: 'gzip' }, () => {
      assert.throws(() => resolveBackend('auto'), /BUNDLEFARM_DEFLATE must be "zlib", "libdeflate" or "auto", got "gzip"/);
      assert.match(engineBackends().reasons.deflate ?? '', /got "gzip"/);
      assert.equal(resolveBackend('zlib').name, 'zlib', 'an explicit choice does not read the variable');
    });
  });
});
