import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Glob, globMatches, type GlobStats } from '@bundlefarm/queue';

/**
 * The glob matcher of webhook conditions and principals' scopes: whole-value matching, `*` within a
 * segment, `**` across, `?` one character — and its work, counted in steps (32-bit words of NFA states
 * updated), grows linearly with the value on adversarial globs that make a backtracking regex
 * polynomial or worse: the same number of words per character, whatever the characters are.
 */

function steps(glob: string, value: string): { matched: boolean; steps: number } {
  const stats: GlobStats = { steps: 0 };
  const matched = Glob.compile(glob).matches(value, stats);
  return { matched, steps: stats.steps };
}

/** Reference semantics, by brute force over the tokens (only for short inputs). */
function reference(glob: string, value: string): boolean {
  const g = [...glob];
  const v = [...value];
  const memo = new Map<string, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = `${i},${j}`;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    let r: boolean;
    if (i === g.length) r = j === v.length;
    else if (g[i] === '*') {
      let k = i;
      while (g[k] === '*') k++;
      const any = k - i > 1;
      r = go(k, j) || (j < v.length && (any || v[j] !== '/') && go(i, j + 1));
    } else if (g[i] === '?') r = j < v.length && v[j] !== '/' && go(i + 1, j + 1);
    else r = j < v.length && v[j] === g[i] && go(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

describe('globs', () => {
  it('match whole values; * stays within a segment, ** crosses them, ? is one character', () => {
    assert.ok(globMatches('v*', 'v1.2.3'));
    assert.ok(!globMatches('v*', 'v1/beta'));
    assert.ok(!globMatches('v*', 'xv1'));
    assert.ok(globMatches('release/**', 'release/2024/q1'));
    assert.ok(globMatches('release/**', 'release/'));
    assert.ok(!globMatches('release/**', 'release'));
    assert.ok(globMatches('acme/*', 'acme/os'));
    assert.ok(!globMatches('acme/*', 'acme/os/sub'));
    assert.ok(globMatches('v?.0', 'v1.0'));
    assert.ok(!globMatches('v?.0', 'v/.0'));
    assert.ok(!globMatches('v1.0', 'v1x0'), 'dots are literal');
    assert.ok(globMatches('a+b(c)[d]{e}|^$\\', 'a+b(c)[d]{e}|^$\\'), 'regex characters are literal');
    assert.ok(globMatches('amis/team-a/**', 'amis/team-a/os/v1/os-v1'));
    assert.ok(!globMatches('amis/team-a/**', 'amis/team-ab/os-v1'));
    assert.ok(globMatches('**', ''));
    assert.ok(globMatches('*', ''));
    assert.ok(!globMatches('', 'x'));
  });

  it('agree with a brute-force reference (property)', () => {
    const alphabet = fc.constantFrom('a', 'b', '/', '*', '?');
    const text = fc.constantFrom('a', 'b', '/');
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 10 }).map((a) => a.join('')), fc.array(text, { maxLength: 12 }).map((a) => a.join('')), (glob, value) => {
        assert.equal(globMatches(glob, value), reference(glob, value), `${JSON.stringify(glob)} vs ${JSON.stringify(value)}`);
      }),
      { numRuns: 2000 },
    );
  });

  it('a glob without wildcards matches exactly itself (property)', () => {
    fc.assert(
      fc.property(fc.string().filter((s) => !/[*?]/.test(s)), fc.string(), (glob, other) => {
        assert.ok(globMatches(glob, glob));
        if (other !== glob) assert.ok(!globMatches(glob, other));
      }),
    );
  });

  it('matchesPrefix: whether some continuation could match', () => {
    assert.ok(Glob.compile('amis/team-a/**').matchesPrefix('amis/'));
    assert.ok(Glob.compile('amis/team-a/**').matchesPrefix('amis/team-a/x'));
    assert.ok(!Glob.compile('amis/team-a/**').matchesPrefix('other/'));
    assert.ok(!Glob.compile('amis/*/x').matchesPrefix('amis/a/b/'));
  });

  // Each adversarial glob is ~3 KB; values of 3 KB and 6 KB. A backtracking regex needs time
  // polynomial (or exponential) in the value on these; here every character costs the same ⌈states/32⌉
  // words, so the steps are at most (characters + 1) × words, and twice the value is twice the work.
  const KB = 1024;
  const adversarial: Array<[string, string, (n: number) => string]> = [
    ['many ** separated by a literal', '**a'.repeat(KB) + 'b', (n) => 'a'.repeat(n)],
    ['many * separated by a literal', '*a'.repeat(1536) + 'b', (n) => 'a'.repeat(n)],
    ["the review's release/**-**-**-final, padded", 'release/' + '**-'.repeat(KB) + 'final', (n) => 'release/' + '-'.repeat(n)],
    ['a long literal after **', '**' + 'a'.repeat(3 * KB - 1) + 'b', (n) => 'a'.repeat(n)],
    ['alternating ? and *', '?*'.repeat(1536) + 'x', (n) => 'y'.repeat(n)],
  ];

  for (const [label, glob, valueOf] of adversarial) {
    it(`does linear work on adversarial input: ${label}`, () => {
      assert.ok(glob.length >= 3 * KB - 2, `the glob is ~3 KB (${glob.length})`);
      const words = Math.ceil(([...glob].length + 1) / 32);
      const small = steps(glob, valueOf(3 * KB));
      const large = steps(glob, valueOf(6 * KB));
      assert.equal(small.matched, false);
      assert.equal(large.matched, false);
      for (const [value, r] of [
        [valueOf(3 * KB), small],
        [valueOf(6 * KB), large],
      ] as const) {
        assert.ok(r.steps <= (value.length + 1) * words, `${r.steps} steps for a ${value.length}-character value: over (characters + 1) × ${words} words`);
      }
      // twice the value, at most twice the work (a backtracking matcher would quadruple or worse)
      assert.ok(large.steps <= 2 * small.steps, `3 KB: ${small.steps} steps, 6 KB: ${large.steps} steps`);
    });
  }

  it('a rule-sized glob (256 characters) against a 1 KiB value: at most 9 words per character', () => {
    const glob = '**-'.repeat(85) + 'x';
    const r = steps(glob, '-'.repeat(1024));
    assert.equal(r.matched, false);
    assert.ok(r.steps <= 1025 * 9, `${r.steps} steps`);
  });
});
