import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashToken, Principals } from '@bundlefarm/queue';
import { assertOneLineError, bundlefarm } from '@bundlefarm/testkit/cli.js';

/** `bundlefarm hash-token`, as an operator runs it to fill in a principal's tokenHashes. */
describe('bundlefarm hash-token', () => {
  it('prints the sha256: hash of the token on stdin, which then finds its principal', async () => {
    const token = 'ci-token-0123456789abcdef0123456789';
    const r = await bundlefarm(['hash-token'], { input: `${token}\n` });
    assert.equal(r.code, 0, r.stderr);
    const hash = r.stdout.trim();
    assert.equal(hash, hashToken(token));
    assert.ok(!r.stdout.includes(token) && !r.stderr.includes(token), 'the token is not echoed');
    const principals = Principals.parse({ principals: [{ name: 'ci', tokenHashes: [hash] }] });
    assert.equal(principals.byToken(token)?.name, 'ci');
  });

  it('--generate makes a random token and prints it with its hash', async () => {
    const r = await bundlefarm(['hash-token', '--generate']);
    assert.equal(r.code, 0, r.stderr);
    const token = /^token: (\S+)$/m.exec(r.stdout)?.[1];
    const hash = /^hash: +(sha256:[0-9a-f]{64})$/m.exec(r.stdout)?.[1];
    assert.ok(token && token.length >= 40, r.stdout);
    assert.equal(hash, hashToken(token));
    const again = await bundlefarm(['hash-token', '--generate']);
    assert.ok(!again.stdout.includes(token), 'a new token each time');
  });

  it('refuses a short token', async () => {
    assertOneLineError(await bundlefarm(['hash-token'], { input: 'short\n' }), 'BF_BAD_OPTION', /16 characters/);
  });
});
