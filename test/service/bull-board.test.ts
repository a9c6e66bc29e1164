import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { hashToken } from '@bundlefarm/queue';
import { ADMIN_BOARD_PATH, BOARD_PATH, buildServer } from '@bundlefarm/server';
import { chromiumPath, needsBrowser } from '../helpers/requirements.js';
import { tempDir } from '../helpers/temp-dir.js';
import { ADMIN, GITHUB_SECRET, PREFIX, TOKEN, serviceEnvironment, specFor, type ServiceEnvironment } from './service-environment.js';

/**
 * Bull Board in a real headless Chromium. Read-only at /admin/queues for viewers — principals that may
 * see every job, logging in with their token — where no write action is shown and any write is refused
 * by the server; with its write actions at /admin/manage for the admin login only, never for an API
 * token. Never framed (X-Frame-Options, CSP frame-ancestors), failed logins throttled per client, and
 * no secret on any page. Without Chromium the suite skips, saying so, before it starts anything
 * (BUNDLEFARM_REQUIRE_BROWSER=1 makes that a failure).
 */
const VIEWER_TOKEN = `viewer-${randomBytes(24).toString('hex')}`;
const CI_TOKEN = `ci-${randomBytes(24).toString('hex')}`;
const dir = await tempDir('bundlefarm-board-');
const principalsFile = join(dir, 'principals.json');
await writeFile(
  principalsFile,
  JSON.stringify({
    principals: [
      { name: 'viewers', tokenHashes: [hashToken(VIEWER_TOKEN)], canSeeOthers: true },
      { name: 'ci', tokenHashes: [hashToken(CI_TOKEN)], identities: ['release'], targets: ['**'], images: ['**'] },
    ],
  }),
);
const skip = needsBrowser();
let env: ServiceEnvironment;
let browser: Browser;
if (!skip) {
  env = await serviceEnvironment({ server: { apiTokens: [], principalsFile, webhookRulesFile: undefined } });
  browser = await chromium.launch({
    executablePath: chromiumPath(),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  after(() => browser.close());
}

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const VIEWER = { username: 'viewer', password: VIEWER_TOKEN };
const ADMIN_LOGIN = { username: ADMIN.user, password: ADMIN.password };

/** Words of the board's write actions (bull-board's English labels). */
const WRITE_ACTIONS = /^(Retry( all.*)?|Promote( all)?|Clean( all)?|Pause( all)?|Resume( all)?|Empty|Obliterate|Add job|Duplicate|Remove.*|Delete)$/;

/**
 * The write actions `page` offers: labels of buttons (text, aria-label, title, or the tooltip an icon
 * button shows when hovered) and of the items of every menu on the page (each opened in turn).
 */
async function actionLabels(page: Page): Promise<string[]> {
  const found: string[] = [];
  for (const button of await page.locator('button').all()) {
    if (!(await button.isVisible())) continue;
    const label = [(await button.innerText()).trim(), await button.getAttribute('aria-label'), await button.getAttribute('title')].filter((x) => x).join(' ');
    if (label === '') {
      await button.hover();
      const tip = page.locator('[role="tooltip"]').first();
      if (await tip.isVisible({ timeout: 500 }).catch(() => false)) found.push((await tip.innerText()).trim());
    } else {
      found.push(label);
    }
    if ((await button.getAttribute('aria-haspopup')) === 'menu') {
      await button.click();
      const items = page.locator('[role="menuitem"]');
      await items.first().waitFor({ timeout: 2_000 }).catch(() => undefined);
      found.push(...(await items.allInnerTexts()).map((t) => t.trim()));
      await page.keyboard.press('Escape');
    }
  }
  return found.filter((l) => WRITE_ACTIONS.test(l));
}

/** Opens the queue's waiting jobs in `context`. */
async function queuePage(context: BrowserContext, base: string): Promise<Page> {
  const page = await context.newPage();
  const res = await page.goto(`${env.url}${base}/queue/bundles?status=waiting`);
  assert.equal(res?.status(), 200);
  await page.getByText('board-visible-job').first().waitFor({ timeout: 20_000 });
  return page;
}

describe('Bull Board', { skip }, () => {
  it('asks a browser without credentials for them (401, WWW-Authenticate: Basic), and wrong ones too', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      // Chromium cancels the Basic challenge it cannot answer (goto may then fail with
      // ERR_INVALID_AUTH_CREDENTIALS); the response it got is what counts
      const response = page.waitForResponse((r) => new URL(r.url()).pathname === BOARD_PATH);
      await page.goto(`${env.url}${BOARD_PATH}`).catch(() => undefined);
      const res = await response;
      assert.equal(res.status(), 401);
      assert.match((await res.allHeaders())['www-authenticate'] ?? '', /^Basic /);
      const body = await res.text().catch(() => '');
      assert.ok(!body.includes('bundle'), 'nothing of the queue is shown');
      const wrong = await browser.newContext({ httpCredentials: { username: ADMIN.user, password: 'not-the-password' } });
      try {
        const p = await wrong.newPage();
        const response2 = p.waitForResponse((r) => new URL(r.url()).pathname === `${BOARD_PATH}/api/queues`);
        await p.goto(`${env.url}${BOARD_PATH}/api/queues`).catch(() => undefined);
        assert.equal((await response2).status(), 401);
      } finally {
        await wrong.close();
      }
    } finally {
      await context.close();
    }
  });

  it('renders the queue and its jobs for a viewer, read-only: no write action shown, never framed, no secret', async () => {
    const r = await env.api('POST', '/v1/bundles', specFor([{ region: 'us-east-1', bucket: 'board-bucket' }], { name: 'board-visible-job' }), { authorization: `Bearer ${CI_TOKEN}` });
    assert.equal(r.status, 202, JSON.stringify(r.json));
    const viewer = await browser.newContext({ httpCredentials: VIEWER });
    const admin = await browser.newContext({ httpCredentials: ADMIN_LOGIN });
    try {
      const front = await viewer.newPage();
      const res = await front.goto(`${env.url}${BOARD_PATH}`);
      assert.equal(res?.status(), 200);
      assert.equal(await front.title(), 'bundlefarm');
      const headers = await res.allHeaders();
      assert.equal(headers['x-frame-options'], 'DENY');
      assert.match(headers['content-security-policy'] ?? '', /frame-ancestors 'none'/);

      const page = await queuePage(viewer, BOARD_PATH);
      const text = await page.locator('body').innerText();
      assert.ok(text.includes('board-visible-job'), 'the job name is on the page');
      assert.deepEqual(await actionLabels(page), [], 'no write action is offered to a viewer');
      for (const secret of [VIEWER_TOKEN, CI_TOKEN, TOKEN, GITHUB_SECRET, ADMIN.password, env.user.privateKeyPem.split('\n')[1]!]) {
        assert.ok(!(await page.content()).includes(secret), 'no secret on the page');
      }
      // the same queue for the admin, at the admin board: the actions are there (so their absence above means something)
      const adminPage = await queuePage(admin, ADMIN_BOARD_PATH);
      const offered = await actionLabels(adminPage);
      assert.ok(offered.includes('Pause') && offered.includes('Add job'), `the admin is offered write actions (got ${JSON.stringify(offered)})`);
    } finally {
      await viewer.close();
      await admin.close();
    }
  });

  it("refuses a viewer's write server-side, from the browser and with its token; the admin's write goes through", async () => {
    const viewer = await browser.newContext({ httpCredentials: VIEWER });
    const admin = await browser.newContext({ httpCredentials: ADMIN_LOGIN });
    try {
      const vp = await viewer.newPage();
      await vp.goto(`${env.url}${BOARD_PATH}`);
      const write = (page: Page, path: string) =>
        page.evaluate(async (url) => {
          const res = await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' });
          return res.status;
        }, `${env.url}${path}`);
      assert.equal(await write(vp, `${BOARD_PATH}/api/queues/bundles/pause`), 403, 'the read-only board refuses writes');
      const adminPathAsViewer = await vp.evaluate(async (url) => (await fetch(url, { method: 'PUT' })).status, `${env.url}${ADMIN_BOARD_PATH}/api/queues/bundles/pause`);
      assert.equal(adminPathAsViewer, 401, 'the admin board refuses a viewer');
      assert.equal(await env.queue.isPaused(), false, 'nothing was paused');

      // API tokens — even one that may enqueue anything — are never board admins
      for (const auth of [`Bearer ${CI_TOKEN}`, `Bearer ${VIEWER_TOKEN}`, basic('admin', VIEWER_TOKEN), basic('x', CI_TOKEN)]) {
        const res = await fetch(`${env.url}${ADMIN_BOARD_PATH}/api/queues/bundles/pause`, { method: 'PUT', headers: { authorization: auth } });
        assert.equal(res.status, 401, auth.slice(0, 12));
      }
      const ro = await fetch(`${env.url}${BOARD_PATH}/api/queues/bundles/pause`, { method: 'PUT', headers: { authorization: `Bearer ${VIEWER_TOKEN}` } });
      assert.equal(ro.status, 403);
      assert.equal(await env.queue.isPaused(), false, 'nothing was paused');

      // the admin, in the browser: pause, then resume
      const ap = await admin.newPage();
      const res = await ap.goto(`${env.url}${ADMIN_BOARD_PATH}`);
      assert.equal(res?.status(), 200);
      assert.equal((await res.allHeaders())['x-frame-options'], 'DENY');
      const status = await write(ap, `${ADMIN_BOARD_PATH}/api/queues/bundles/pause`);
      assert.ok(status >= 200 && status < 300, `admin pause: ${status}`);
      assert.equal(await env.queue.isPaused(), true, 'the admin paused the queue');
      assert.ok((await write(ap, `${ADMIN_BOARD_PATH}/api/queues/bundles/resume`)) < 300);
      assert.equal(await env.queue.isPaused(), false);
    } finally {
      await viewer.close();
      await admin.close();
    }
  });

  it('lets a viewer token read the board API (for scripts), not a token without canSeeOthers', async () => {
    const res = await fetch(`${env.url}${BOARD_PATH}/api/queues`, { headers: { authorization: `Bearer ${VIEWER_TOKEN}` } });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { queues: Array<{ name: string; readOnlyMode: boolean; counts: Record<string, number> }> };
    assert.equal(body.queues[0]?.name, 'bundles');
    assert.equal(body.queues[0]?.readOnlyMode, true);
    assert.ok((body.queues[0]?.counts.waiting ?? 0) >= 1);
    const ci = await fetch(`${env.url}${BOARD_PATH}/api/queues`, { headers: { authorization: `Bearer ${CI_TOKEN}` } });
    assert.equal(ci.status, 401);
  });

  it('throttles failed logins per client: after 10 failures even the right password gets 429 for a while', async () => {
    // a server of its own: its limiter must not lock the other tests out
    const app = await buildServer(
      { apiTokens: [], principalsFile, redisUrl: env.redis.url, queuePrefix: `${PREFIX}-limit`, admin: ADMIN, logLevel: 'silent' },
      { logger: false },
    );
    try {
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      const get = (auth: string) => fetch(`${url}${BOARD_PATH}/api/queues`, { headers: { authorization: auth } });
      assert.equal((await get(basic(ADMIN.user, ADMIN.password))).status, 200);
      for (let i = 0; i < 10; i++) assert.equal((await get(basic(ADMIN.user, `wrong-${i}`))).status, 401, `failure ${i + 1}`);
      const locked = await get(basic(ADMIN.user, ADMIN.password));
      assert.equal(locked.status, 429);
      assert.ok(Number(locked.headers.get('retry-after')) > 0);
      assert.equal((await fetch(`${url}${ADMIN_BOARD_PATH}/api/queues`, { headers: { authorization: basic(ADMIN.user, ADMIN.password) } })).status, 429, 'both boards');
      // the API itself is not locked
      assert.equal((await fetch(`${url}/v1/queue`, { headers: { authorization: `Bearer ${VIEWER_TOKEN}` } })).status, 200);
    } finally {
      await app.close();
    }
  });

  it('behind a proxy (BUNDLEFARM_TRUST_PROXY=true), a guesser cannot claim a fresh address per guess in X-Forwarded-For', async () => {
    // true is one hop: the address the proxy appended (the right-most), never the ones the client wrote
    const app = await buildServer(
      { apiTokens: [], principalsFile, redisUrl: env.redis.url, queuePrefix: `${PREFIX}-proxy`, admin: ADMIN, logLevel: 'silent', trustProxy: true },
      { logger: false },
    );
    try {
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      // what the proxy forwards: the client's own X-Forwarded-For, then the client's real address
      const get = (auth: string, claimed: string, real = '203.0.113.7') =>
        fetch(`${url}${BOARD_PATH}/api/queues`, { headers: { authorization: auth, 'x-forwarded-for': `${claimed}, ${real}` } });
      for (let i = 0; i < 10; i++) assert.equal((await get(basic(ADMIN.user, `wrong-${i}`), `198.51.100.${i}`)).status, 401, `failure ${i + 1}`);
      assert.equal((await get(basic(ADMIN.user, 'wrong-again'), '198.51.100.99')).status, 429, 'the real client is locked out whatever it claims');
      assert.equal((await get(basic(ADMIN.user, ADMIN.password), '198.51.100.100', '203.0.113.8')).status, 200, 'another real client is not');
    } finally {
      await app.close();
    }
  });
});
