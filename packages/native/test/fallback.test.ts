// loadNative(): BUNDLEFARM_DEFLATE=zlib forces the fallback; otherwise the built addon loads.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadNative } from '@bundlefarm/native';
import { FORCED_ZLIB } from './support.js';

describe('loadNative', () => {
  it('returns binding null with a reason when BUNDLEFARM_DEFLATE=zlib (read on every call)', () => {
    const saved = process.env.BUNDLEFARM_DEFLATE;
    try {
      process.env.BUNDLEFARM_DEFLATE = 'zlib';
      const r = loadNative();
      assert.equal(r.binding, null);
      assert.match('reason' in r ? r.reason : '', /BUNDLEFARM_DEFLATE=zlib/);
    } finally {
      if (saved === undefined) delete process.env.BUNDLEFARM_DEFLATE;
      else process.env.BUNDLEFARM_DEFLATE = saved;
    }
  });

  it('forces the fallback in a fresh process too', () => {
    const index = fileURLToPath(new URL('../src/index.ts', import.meta.url));
    const script = `import(${JSON.stringify(index)}).then((m) => { const r = m.loadNative(); console.log(JSON.stringify({ binding: r.binding, reason: r.reason })); })`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, BUNDLEFARM_DEFLATE: 'zlib' },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { binding: null, reason: 'BUNDLEFARM_DEFLATE=zlib forces the zlib fallback' });
  });

  it('loads the built addon otherwise', { skip: FORCED_ZLIB ? 'BUNDLEFARM_DEFLATE=zlib' : false }, () => {
    const r = loadNative();
    assert.ok(r.binding, 'reason' in r ? r.reason : 'no binding');
    assert.equal(typeof r.binding.deflatePiece, 'function');
    assert.equal(loadNative(), r, 'the loaded binding is cached');
  });
});
