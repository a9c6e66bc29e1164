import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { chromiumPath, needsBrowser } from '../helpers/requirements.js';
import { ADMIN, GITHUB_SECRET, TOKEN, serviceEnvironment, specFor, type ServiceEnvironment } from './service-environment.js';

/**
 * Bull Board at /admin/queues in a real headless Chromium: behind basic auth (a browser without
 * credentials gets 401 and a Basic challenge), rendering the queue and its jobs, and showing no secret.
 * Without Chromium the suite skips, saying so, before it starts anything (BUNDLEFARM_REQUIRE_BROWSER=1
 * makes that a failure).
 */
const skip = needsBrowser();
let env: ServiceEnvironment;
let browser: Browser;
if (!skip) {
  env = await serviceEnvironment();
  browser = await chromium.launch({
    executablePath: chromiumPath(),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  after(() => browser.close());
}

describe('Bull Board', { skip }, () => {
  it('asks a browser without credentials for them (401, WWW-Authenticate: Basic)', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      // Chromium cancels the Basic challenge it cannot answer (goto may then fail with
      // ERR_INVALID_AUTH_CREDENTIALS); the response it got is what counts
      const response = page.waitForResponse((r) => new URL(r.url()).pathname === '/admin/queues');
      await page.goto(`${env.url}/admin/queues`).catch(() => undefined);
      const res = await response;
      assert.equal(res.status(), 401);
      assert.match((await res.allHeaders())['www-authenticate'] ?? '', /^Basic /);
      const body = await res.text().catch(() => '');
      assert.ok(!body.includes('bundle'), 'nothing of the queue is shown');
      const wrong = await browser.newContext({ httpCredentials: { username: ADMIN.user, password: 'not-the-password' } });
      try {
        const p = await wrong.newPage();
        const response2 = p.waitForResponse((r) => new URL(r.url()).pathname === '/admin/queues/api/queues');
        await p.goto(`${env.url}/admin/queues/api/queues`).catch(() => undefined);
        assert.equal((await response2).status(), 401);
      } finally {
        await wrong.close();
      }
    } finally {
      await context.close();
    }
  });

  it('renders the queue and its jobs for the admin', async () => {
    const r = await env.api('POST', '/v1/bundles', specFor([{ region: 'us-east-1', bucket: 'board-bucket' }], { name: 'board-visible-job' }));
    assert.equal(r.status, 202);
    const context = await browser.newContext({ httpCredentials: { username: ADMIN.user, password: ADMIN.password } });
    try {
      const page = await context.newPage();
      const res = await page.goto(`${env.url}/admin/queues`);
      assert.equal(res?.status(), 200);
      assert.equal(await page.title(), 'bundlefarm');
      await page.getByText('bundles', { exact: true }).first().waitFor({ timeout: 20_000 });
      await page.goto(`${env.url}/admin/queues/queue/bundles?status=waiting`);
      await page.getByText('board-visible-job').first().waitFor({ timeout: 20_000 });
      const text = await page.locator('body').innerText();
      assert.ok(text.includes('board-visible-job'), 'the job name is on the page');
      for (const secret of [TOKEN, GITHUB_SECRET, ADMIN.password, env.user.privateKeyPem.split('\n')[1]!]) {
        assert.ok(!(await page.content()).includes(secret), 'no secret on the page');
      }
    } finally {
      await context.close();
    }
  });

  it('accepts an API token instead of basic auth (for scripts)', async () => {
    const res = await fetch(`${env.url}/admin/queues/api/queues`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { queues: Array<{ name: string; counts: Record<string, number> }> };
    assert.equal(body.queues[0]?.name, 'bundles');
    assert.ok((body.queues[0]?.counts.waiting ?? 0) >= 1);
  });
});
