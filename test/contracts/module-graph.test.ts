// The API side loads no engine: importing @bundlefarm/server (what bundlefarm-api runs) or the jobs
// side of @bundlefarm/queue must not load the engine, its Piscina pool, the native addon or the rootfs
// builder — only the workers bundle, and an API process should not carry (or crash on) any of that.
// The worker side, @bundlefarm/queue/worker, does load the engine: the probe is checked on it too.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../../', import.meta.url));
const probe = fileURLToPath(new URL('./module-graph/loaded-by.mjs', import.meta.url));
const ENGINE = /\/packages\/(engine|native|rootfs)\/|\/node_modules\/piscina\//;

async function loadedBy(entry: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)(process.execPath, [probe, pathToFileURL(`${root}${entry}`).href], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout) as string[];
}

describe('module graph', () => {
  it('the API package (@bundlefarm/server) loads no engine, pool, native addon or rootfs module', async () => {
    const loaded = await loadedBy('packages/server/dist/index.js');
    assert.ok(loaded.some((u) => u.includes('/packages/queue/')), 'the probe sees the queue package being loaded');
    assert.deepEqual(loaded.filter((u) => ENGINE.test(u)).map((u) => u.slice(u.indexOf('/packages/') >= 0 ? u.indexOf('/packages/') : u.indexOf('/node_modules/'))), []);
  });

  it('nor does the jobs side of @bundlefarm/queue; its worker side does', async () => {
    assert.deepEqual((await loadedBy('packages/queue/dist/index.js')).filter((u) => ENGINE.test(u)), []);
    const worker = await loadedBy('packages/queue/dist/worker/index.js');
    assert.ok(worker.some((u) => /\/packages\/engine\//.test(u)), 'the worker loads the engine (the probe can tell)');
  });
});
