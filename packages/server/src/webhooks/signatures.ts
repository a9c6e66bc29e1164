import { createHmac, timingSafeEqual } from 'node:crypto';
import { matchesAnySecret } from '../auth/constant-time.js';

/**
 * GitHub: `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the raw body bytes with the hook's
 * secret. Checked against every configured secret (rotation), in constant time, before the body is
 * parsed.
 */
export function verifyGithubSignature(rawBody: Buffer, header: string | undefined, secrets: readonly string[]): boolean {
  const m = /^sha256=([0-9a-fA-F]{64})$/.exec(header?.trim() ?? '');
  if (!m || secrets.length === 0) return false;
  const given = Buffer.from(m[1]!, 'hex');
  let ok = false;
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(rawBody).digest();
    ok = timingSafeEqual(given, expected) || ok;
  }
  return ok;
}

/** The header value GitHub would send for `body` signed with `secret` (for tests and docs). */
export function githubSignature(body: Buffer | string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** GitLab: `X-Gitlab-Token` is the hook's secret token itself; compared in constant time. */
export function verifyGitlabToken(header: string | undefined, tokens: readonly string[]): boolean {
  if (header === undefined || header === '' || tokens.length === 0) return false;
  return matchesAnySecret(header, tokens);
}
