// loadNative() / loadLibdeflate(): BUNDLEFARM_NATIVE=off turns the whole addon off; BUNDLEFARM_DEFLATE
// no longer does (it only picks the engine's deflate backend); otherwise the built addon loads.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadLibdeflate, loadNative } from '@bundlefarm/native';
import { needsNative } from '@bundlefarm/testkit/requirements.js';

/** Runs `fn` with the environment variables set (undefined: unset), restoring them after. */
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

const index = fileURLToPath(new URL('../src/index.ts', import.meta.url));

/** loadNative() and loadLibdeflate() in a fresh process with `env` added. */
function freshLoad(env: Record<string, string>): { native: unknown; libdeflate: unknown; stderr: string } {
  const script = `import(${JSON.stringify(index)}).then((m) => {
    const a = m.loadNative(), b = m.loadLibdeflate();
    console.log(JSON.stringify({ native: a.binding ? 'loaded' : a.reason, libdeflate: b.binding ? 'loaded' : b.reason }));
  })`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(r.status, 0, r.stderr);
  return { ...(JSON.parse(r.stdout) as { native: unknown; libdeflate: unknown }), stderr: r.stderr };
}

describe('loadNative', () => {
  it('returns binding null with a reason when BUNDLEFARM_NATIVE=off (read on every call), libdeflate too', () => {
    withEnv({ BUNDLEFARM_NATIVE: 'off' }, () => {
      const r = loadNative();
      assert.equal(r.binding, null);
      assert.match('reason' in r ? r.reason : '', /BUNDLEFARM_NATIVE=off turns the native addon off/);
      const l = loadLibdeflate();
      assert.equal(l.binding, null);
    });
  });

  it('turns the addon off in a fresh process too', () => {
    assert.deepEqual(freshLoad({ BUNDLEFARM_NATIVE: 'off' }).native, 'BUNDLEFARM_NATIVE=off turns the native addon off');
    assert.deepEqual(freshLoad({ BUNDLEFARM_NATIVE: '0' }).native, 'BUNDLEFARM_NATIVE=0 turns the native addon off');
  });

  it('leaves it on with on, auto or empty', { skip: needsNative() }, () => {
    for (const value of ['on', 'auto', '']) assert.equal(freshLoad({ BUNDLEFARM_NATIVE: value }).native, 'loaded', value);
  });

  it('takes a value it does not know for off, and warns', () => {
    const r = freshLoad({ BUNDLEFARM_NATIVE: 'of' });
    assert.match(String(r.native), /BUNDLEFARM_NATIVE=of \(not "on"\): the native addon is off/);
    assert.match(r.stderr, /BUNDLEFARM_NATIVE="of" is neither "off" nor "on"/);
  });

  it('leaves the addon on with BUNDLEFARM_DEFLATE=zlib (the old switch now picks only the deflate backend)', { skip: needsNative() }, () => {
    withEnv({ BUNDLEFARM_DEFLATE: 'zlib', BUNDLEFARM_NATIVE: undefined }, () => {
      assert.ok(loadNative().binding);
    });
    assert.equal(freshLoad({ BUNDLEFARM_DEFLATE: 'zlib' }).native, 'loaded');
  });

  it('loads the built addon otherwise, once per thread', { skip: needsNative() }, () => {
    const r = loadNative();
    assert.ok(r.binding, 'reason' in r ? r.reason : 'no binding');
    assert.equal(typeof r.binding.aesCbcEncrypt, 'function');
    assert.equal(typeof r.binding.dataRuns, 'function');
    assert.equal(typeof r.binding.alignedOffset, 'function');
    assert.equal(loadNative(), r, 'the loaded binding is cached');
    const l = loadLibdeflate();
    if (r.binding.libdeflate === null) {
      assert.equal(l.binding, null);
      assert.match('reason' in l ? l.reason : '', /built without libdeflate .*apt-get install libdeflate-dev && npm rebuild/);
    } else {
      assert.ok(l.binding);
      assert.equal(l.binding.version(), r.binding.libdeflate);
    }
  });
});
