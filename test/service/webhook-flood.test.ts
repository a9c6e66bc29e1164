import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { startRedis } from '../helpers/redis-server.js';
import { startApiProcess } from '../helpers/service-processes.js';

/**
 * 400 connections that each start an unauthenticated GitHub webhook of 1 MiB — headers that look
 * right, a signature that is not — and never finish it. The API (a process of its own, defaults) may
 * hold only its buffer budget of such bytes between them (BUNDLEFARM_WEBHOOK_BUFFER_BUDGET, 16 MiB):
 * its resident memory, read from /proc, must grow by less than the bound docs/service.md states
 * (64 MiB), and it must keep answering meanwhile. Without the budget each connection made the API
 * buffer its megabyte: some 400 MiB.
 */
const CONNECTIONS = 400;
const BODY = 1024 * 1024;
/** The bound documented in docs/service.md ("Limits"). */
const RSS_GROWTH_BOUND = 64 * 1024 * 1024;

const redis = await startRedis();
const api = await startApiProcess({
  BUNDLEFARM_API_TOKENS: `flood-token-${randomUUID()}`,
  BUNDLEFARM_GITHUB_WEBHOOK_SECRETS: `flood-secret-${randomUUID()}`,
  BUNDLEFARM_REDIS_URL: redis.url,
  BUNDLEFARM_LOG_LEVEL: 'error',
});
after(async () => {
  await api.stop('SIGKILL');
  await redis.dispose();
});

async function rss(): Promise<number> {
  const status = await readFile(`/proc/${api.child.pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  assert.ok(kb, 'VmRSS in /proc/PID/status');
  return Number(kb) * 1024;
}

describe('unauthenticated webhook bodies', { timeout: 120_000 }, () => {
  it(`${CONNECTIONS} slow connections each sending ~1 MiB unsigned keep the API's RSS growth under 64 MiB`, async () => {
    const { port } = new URL(api.url);
    // warm up: the first requests load code the flood would otherwise be blamed for
    for (let i = 0; i < 20; i++) {
      await fetch(`${api.url}/v1/hooks/github`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` },
        body: '{}',
      });
      await fetch(`${api.url}/healthz`);
    }
    await new Promise((r) => setTimeout(r, 500));
    const before = await rss();

    const body = Buffer.alloc(BODY - 1, 0x61); // all but the last byte: the request never ends
    const sockets: Socket[] = [];
    let refused = 0;
    const sent = await Promise.all(
      Array.from({ length: CONNECTIONS }, () =>
        new Promise<void>((resolve) => {
          const s = connect(Number(port), '127.0.0.1', () => {
            s.write(
              `POST /v1/hooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${BODY}\r\n` +
                `X-GitHub-Event: push\r\nX-GitHub-Delivery: ${randomUUID()}\r\nX-Hub-Signature-256: sha256=${'0'.repeat(64)}\r\n\r\n`,
            );
            // resolves when the body is handed over, or when the server closes the connection on it
            s.write(body, () => resolve());
          });
          s.on('data', (d: Buffer) => {
            if (/^HTTP\/1\.1 (503|413|408)/.test(d.toString('latin1'))) refused++;
          });
          s.on('error', () => resolve());
          s.on('close', () => resolve());
          sockets.push(s);
        }),
      ),
    );
    assert.equal(sent.length, CONNECTIONS);
    after(() => sockets.forEach((s) => s.destroy()));
    await new Promise((r) => setTimeout(r, 500));
    const during = await rss();
    const health = await fetch(`${api.url}/healthz`);
    assert.equal(health.status, 200, 'the API answers during the flood');
    const open = sockets.filter((s) => !s.destroyed && !s.closed).length;
    const growth = during - before;
    const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;
    console.log(`API RSS ${mib(before)} -> ${mib(during)} (+${mib(growth)}); ${refused} refused with 503/413/408, ${open} connections still open`);
    assert.ok(growth < RSS_GROWTH_BOUND, `RSS grew by ${mib(growth)} with ${CONNECTIONS} unfinished unauthenticated bodies (bound ${mib(RSS_GROWTH_BOUND)})`);
    assert.ok(refused > 0, 'bodies beyond the budget were refused');
  });
});

describe('the webhook buffer budget', { timeout: 60_000 }, () => {
  it('is given back by requests that were aborted, timed out or refused: it never leaks', async () => {
    const { buildServer } = await import('@bundlefarm/server');
    const LIMIT = 64 * 1024;
    // the budget holds exactly one body: any byte not given back would refuse the next delivery
    const app = await buildServer(
      { apiTokens: ['budget-token-0123456789'], githubWebhookSecrets: ['budget-secret-0123456789'], redisUrl: redis.url, queuePrefix: 'budget', webhookBodyLimit: LIMIT, webhookBufferBudget: LIMIT, webhookBodyTimeoutMs: 500 },
      { logger: false },
    );
    after(() => app.close());
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const port = Number(new URL(url).port);
    const head = (length: number): string =>
      `POST /v1/hooks/github HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n` +
      `X-GitHub-Event: push\r\nX-GitHub-Delivery: ${randomUUID()}\r\nX-Hub-Signature-256: sha256=${'0'.repeat(64)}\r\n\r\n`;
    /** Sends a request and returns the status line (or '' when the connection closed without one). */
    const exchange = (data: string, then: (s: Socket) => void = () => {}): Promise<string> =>
      new Promise((resolve) => {
        let got = '';
        const s = connect(port, '127.0.0.1', () => {
          s.write(data);
          then(s);
        });
        s.on('data', (d: Buffer) => (got += d.toString('latin1')));
        s.on('close', () => resolve(got.split('\r\n')[0] ?? ''));
        s.on('error', () => undefined);
      });
    const full = async (): Promise<string> => exchange(head(LIMIT) + 'x'.repeat(LIMIT));
    assert.match(await full(), / 401 /, 'a whole unsigned body is read, then refused (bad signature)');
    // aborted half-way
    await exchange(head(LIMIT) + 'x'.repeat(1000), (s) => setTimeout(() => s.destroy(), 100));
    await new Promise((r) => setTimeout(r, 100));
    assert.match(await full(), / 401 /, 'the aborted request gave its share back');
    // too slow: 408 after the body timeout
    assert.match(await exchange(head(LIMIT) + 'x'.repeat(10)), / 408 /);
    assert.match(await full(), / 401 /, 'the timed-out request gave its share back');
    // while one holds most of the budget with bytes it really sent, another body that does not fit is refused
    let hold: Socket | undefined;
    const held = exchange(head(LIMIT) + 'x'.repeat(LIMIT - 100), (s) => (hold = s));
    await new Promise((r) => setTimeout(r, 100));
    assert.match(await full(), / 503 /, 'no budget left for its bytes: refused');
    hold?.destroy();
    await held;
    await new Promise((r) => setTimeout(r, 100));
    assert.match(await full(), / 401 /);
  });

  it('is not held by declarations: idle connections that declare a body and send none starve no delivery', async () => {
    const { buildServer } = await import('@bundlefarm/server');
    const LIMIT = 64 * 1024;
    // room for two bodies; twenty connections declare one each and send nothing (before: each held its
    // declared length, the budget was gone, and every real delivery got 503 until they timed out)
    const app = await buildServer(
      { apiTokens: ['budget-token-0123456789'], githubWebhookSecrets: ['budget-secret-0123456789'], redisUrl: redis.url, queuePrefix: 'budget2', webhookBodyLimit: LIMIT, webhookBufferBudget: 2 * LIMIT, webhookBodyTimeoutMs: 30_000 },
      { logger: false },
    );
    after(() => app.close());
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const port = Number(new URL(url).port);
    const head = (length: number): string =>
      `POST /v1/hooks/github HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n` +
      `X-GitHub-Event: push\r\nX-GitHub-Delivery: ${randomUUID()}\r\nX-Hub-Signature-256: sha256=${'0'.repeat(64)}\r\n\r\n`;
    const idle: Socket[] = [];
    after(() => idle.forEach((s) => s.destroy()));
    await Promise.all(
      Array.from({ length: 20 }, () => new Promise<void>((resolve) => {
        const s = connect(port, '127.0.0.1', () => s.write(head(LIMIT), () => resolve()));
        s.on('error', () => resolve());
        idle.push(s);
      })),
    );
    await new Promise((r) => setTimeout(r, 200));
    const status = await new Promise<string>((resolve) => {
      let got = '';
      const s = connect(port, '127.0.0.1', () => s.write(head(LIMIT) + 'x'.repeat(LIMIT)));
      s.on('data', (d: Buffer) => (got += d.toString('latin1')));
      s.on('close', () => resolve(got.split('\r\n')[0] ?? ''));
      s.on('error', () => undefined);
    });
    assert.match(status, / 401 /, 'a whole body was read (then refused for its bad signature), not 503');
    assert.equal(idle.filter((s) => !s.destroyed).length, 20, 'the idle connections are still open: they were not what made room');
    idle.forEach((s) => s.destroy());
  });
});
