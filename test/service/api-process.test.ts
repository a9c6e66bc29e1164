import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { freePort, startRedis } from '../helpers/redis-server.js';
import { run } from '../helpers/run.js';
import { API_BIN } from '../helpers/spawned-process.js';

// apps/api/bin/bundlefarm-api.js as deployed: configuration from the environment, SIGTERM closes it cleanly.
const redis = await startRedis();
after(() => redis.dispose());

describe('bundlefarm-api process', () => {
  it('listens with the configuration from the environment and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const token = 'process-token-0123456789';
    const child = spawn(process.execPath, [API_BIN], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        BUNDLEFARM_API_TOKENS: token,
        BUNDLEFARM_REDIS_URL: redis.url,
        BUNDLEFARM_API_HOST: '127.0.0.1',
        BUNDLEFARM_API_PORT: String(port),
        BUNDLEFARM_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      let ready = false;
      for (let i = 0; i < 200 && !ready; i++) {
        ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
        if (!ready) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(ready, `the API came up; output:\n${out}`);
      const r = await fetch(`http://127.0.0.1:${port}/v1/queue`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(r.status, 200);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, out);
    assert.match(out, /"msg":"shutting down"/);
    assert.ok(!out.includes(token), 'the token is not logged');
    // the legacy token list is one unrestricted principal, and the API says so at every start
    assert.match(out, /"level":40,.*BUNDLEFARM_API_TOKENS is set: its tokens are one unrestricted principal/);
  });

  it('starts without Redis (503 until it comes), then serves; SIGTERM still exits 0', async () => {
    const down = await startRedis();
    after(() => down.dispose());
    // the API's port is picked while Redis still holds its own: picked after, it could be Redis's, which
    // the restart below then finds taken
    const port = await freePort();
    await down.stop();
    const token = 'process-token-0123456789';
    const child = spawn(process.execPath, [API_BIN], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', BUNDLEFARM_API_TOKENS: token, BUNDLEFARM_REDIS_URL: down.url, BUNDLEFARM_API_HOST: '127.0.0.1', BUNDLEFARM_API_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status, () => 0);
    try {
      let healthy = false;
      for (let i = 0; i < 200 && !healthy; i++) {
        healthy = (await get('/healthz')) === 200;
        if (!healthy) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(healthy, `the API came up without Redis; output:\n${out}`);
      assert.equal(await get('/readyz'), 503);
      const t0 = Date.now();
      assert.equal(await get('/v1/queue'), 503);
      assert.ok(Date.now() - t0 < 2000, 'answers at once');
      await down.restart();
      let ready = false;
      for (let i = 0; i < 200 && !ready; i++) {
        ready = (await get('/readyz')) === 200;
        if (!ready) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(ready, 'ready once Redis is there');
      assert.equal(await get('/v1/queue'), 200);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, out);
  });

  it('refuses a bad configuration with exit 2, naming the variables', async () => {
    const r = await run(process.execPath, [API_BIN], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', BUNDLEFARM_API_TOKENS: 'tiny-tok', BUNDLEFARM_API_PORT: 'x' } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^bundlefarm-api: BF_BAD_CONFIG: .*BUNDLEFARM_API_PORT.*BUNDLEFARM_API_TOKENS/);
    assert.ok(!r.stderr.includes('tiny-tok'), 'the value is not echoed');
  });
});
