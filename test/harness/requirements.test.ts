// te../helpers/requirements.ts: a missing requirement skips with its reason, or fails the file when the
// run requires it; what a run turns off on purpose skips either way.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MissingRequirementError, needsBrowser, needsNative, needsTools, requireOrSkip } from '../helpers/requirements.js';

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

/** Runs `fn` with stderr captured (the helpers print each skip reason there); returns what was printed. */
function printed(fn: () => void): string {
  let text = '';
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    text += String(chunk);
    return true;
  });
  try {
    fn();
  } finally {
    process.stderr.write = write;
  }
  return text;
}

const NOT_REQUIRED = { BUNDLEFARM_REQUIRE_NATIVE: undefined, BUNDLEFARM_REQUIRE_BROWSER: undefined, BUNDLEFARM_REQUIRE_TOOLS: undefined };

describe('requireOrSkip and the needs* helpers', () => {
  it('runs what is there, skips what is missing with the reason and the variable that would require it', () => {
    const out = printed(() =>
      withEnv(NOT_REQUIRED, () => {
        assert.equal(requireOrSkip('tools', true, 'unused'), false);
        for (let i = 0; i < 2; i++) {
          assert.equal(requireOrSkip('tools', false, 'frob not found (apt-get install frob)'), 'tools: frob not found (apt-get install frob) (BUNDLEFARM_REQUIRE_TOOLS=1 makes this a failure)');
        }
        assert.match(String(needsTools(['sh', 'no-such-command-bf'], 'apt-get install bf')), /^tools: no-such-command-bf not found \(apt-get install bf\)/);
        assert.equal(needsTools(['sh'], 'always there'), false);
        withEnv({ BUNDLEFARM_CHROMIUM: '/nonexistent/chromium' }, () => {
          assert.match(String(needsBrowser()), /^browser: Chromium not found at \/nonexistent\/chromium .*BUNDLEFARM_REQUIRE_BROWSER=1 makes this a failure/);
        });
      }),
    );
    assert.equal(out.match(/^# SKIP tools: frob not found/gm)?.length, 1, `each reason printed once:\n${out}`);
    assert.match(out, /^# SKIP browser: Chromium not found at \/nonexistent\/chromium/m);
  });

  it('throws, naming what is missing, when the run requires it', () => {
    withEnv({ ...NOT_REQUIRED, BUNDLEFARM_REQUIRE_TOOLS: '1', BUNDLEFARM_REQUIRE_BROWSER: '1', BUNDLEFARM_CHROMIUM: '/nonexistent/chromium' }, () => {
      assert.throws(() => needsTools(['no-such-command-bf'], 'apt-get install bf'), (err: unknown) => err instanceof MissingRequirementError && /^BUNDLEFARM_REQUIRE_TOOLS=1, but no-such-command-bf not found/.test(err.message));
      assert.throws(() => needsBrowser(), { name: 'MissingRequirementError', message: /^BUNDLEFARM_REQUIRE_BROWSER=1, but Chromium not found at \/nonexistent\/chromium/ });
      assert.equal(needsTools(['sh'], 'always there'), false, 'what is there still runs');
    });
  });

  it('skips the addon tests when BUNDLEFARM_NATIVE=off, even when the addon is required: that is the fallback tier', () => {
    printed(() =>
      withEnv({ BUNDLEFARM_REQUIRE_NATIVE: '1', BUNDLEFARM_NATIVE: 'off' }, () => {
        assert.equal(needsNative(), 'native: BUNDLEFARM_NATIVE=off turns the native addon off (the fallback tier)');
      }),
    );
  });
});
