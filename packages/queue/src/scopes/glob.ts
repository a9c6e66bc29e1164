/*
 * Globs matched in time linear in the value, never backtracking: the glob is compiled to a small NFA
 * (one state per token) and the value is run through it once, all states at a time, as bit vectors
 * (the Shift-And algorithm, extended with the self-loops of `*` and `**`). Each character of the value
 * costs the same few operations on ⌈(tokens + 1) / 32⌉ words, whatever the glob and the value look
 * like: a match is O(|value| × |glob| / 32) word operations — linear in the value for a given glob, a
 * handful of words per character for any glob a rules or principals file holds (those are at most
 * 256 and 1024 characters). A backtracking regex, by contrast, is polynomial in the value on
 * `release/**-**-**-final`.
 *
 * Syntax, matched against the whole value: `*` any run of characters but `/`; `**` (two or more `*`)
 * any run including `/`; `?` one character but `/`; everything else is literal (no escapes, no classes).
 * `v*` matches `v1.2.0` but not `v1/beta`; `release/**` matches `release/2024/q1` and `release/`.
 */

type Token = { kind: 'char'; ch: string } | { kind: 'one' } | { kind: 'star' } | { kind: 'globstar' };

/** Counts the work of matches, for tests: one step per 32-bit word of states updated (32 states at a time). */
export interface GlobStats {
  steps: number;
}

function tokenize(glob: string): Token[] {
  const tokens: Token[] = [];
  const chars = [...glob];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '*') {
      let run = 1;
      while (chars[i + 1] === '*') {
        run++;
        i++;
      }
      const kind = run > 1 ? 'globstar' : 'star';
      const last = tokens.at(-1);
      // `*` next to `**` is `**`; two stars side by side cannot happen otherwise
      if (last && (last.kind === 'star' || last.kind === 'globstar')) {
        if (kind === 'globstar') tokens[tokens.length - 1] = { kind };
      } else {
        tokens.push({ kind });
      }
    } else if (c === '?') {
      tokens.push({ kind: 'one' });
    } else {
      tokens.push({ kind: 'char', ch: c });
    }
  }
  return tokens;
}

export class Glob {
  readonly source: string;
  /** States are 0..tokens; `words` 32-bit words hold one bit per state. */
  private readonly states: number;
  private readonly words: number;
  /** Bit j: token j is `?` (advances on any character but `/`). */
  private readonly one: Uint32Array;
  /** Bit j: token j is `*` (loops on any character but `/`; may be skipped). */
  private readonly star: Uint32Array;
  /** Bit j: token j is `**` (loops on any character; may be skipped). */
  private readonly globstar: Uint32Array;
  /** Per literal character, bit j: token j is that character. */
  private readonly literals = new Map<string, Uint32Array>();
  private readonly none: Uint32Array;

  private constructor(source: string) {
    this.source = source;
    const tokens = tokenize(source);
    this.states = tokens.length + 1;
    this.words = Math.ceil(this.states / 32);
    this.one = new Uint32Array(this.words);
    this.star = new Uint32Array(this.words);
    this.globstar = new Uint32Array(this.words);
    this.none = new Uint32Array(this.words);
    tokens.forEach((t, j) => {
      const set = (mask: Uint32Array): void => {
        mask[j >>> 5]! |= 1 << (j & 31);
      };
      if (t.kind === 'one') set(this.one);
      else if (t.kind === 'star') set(this.star);
      else if (t.kind === 'globstar') set(this.globstar);
      else {
        let mask = this.literals.get(t.ch);
        if (!mask) this.literals.set(t.ch, (mask = new Uint32Array(this.words)));
        set(mask);
      }
    });
    this.literal = tokens.every((t) => t.kind === 'char');
  }

  static compile(glob: string): Glob {
    return new Glob(glob);
  }

  /** The glob has no wildcard: it matches only itself. */
  readonly literal: boolean;

  /** Whether the whole `value` matches. */
  matches(value: string, stats?: GlobStats): boolean {
    const d = this.run(value, stats);
    const last = this.states - 1;
    return ((d[last >>> 5]! >>> (last & 31)) & 1) === 1;
  }

  /** Whether some value starting with `prefix` could match (every state can still reach the end). */
  matchesPrefix(prefix: string, stats?: GlobStats): boolean {
    return this.run(prefix, stats).some((w) => w !== 0);
  }

  /** The set of states after reading `value`. */
  private run(value: string, stats?: GlobStats): Uint32Array {
    const W = this.words;
    let d = new Uint32Array(W);
    let next = new Uint32Array(W);
    d[0] = 1;
    this.skipStars(d);
    let steps = W;
    for (const c of value) {
      const lit = this.literals.get(c) ?? this.none;
      const notSlash = c !== '/';
      let carry = 0;
      let any = 0;
      for (let w = 0; w < W; w++) {
        const cur = d[w]!;
        // advance over a literal (or `?`) that accepts c: shift the state bit one up
        const adv = cur & (lit[w]! | (notSlash ? this.one[w]! : 0));
        const shifted = ((adv << 1) | carry) >>> 0;
        carry = adv >>> 31;
        // stay in a star that accepts c
        const loop = cur & (this.globstar[w]! | (notSlash ? this.star[w]! : 0));
        const v = (shifted | loop) >>> 0;
        next[w] = v;
        any |= v;
      }
      steps += W;
      [d, next] = [next, d];
      if (any === 0) break;
      this.skipStars(d);
    }
    if (stats) stats.steps += steps;
    return d;
  }

  /** A star may match nothing: from its state, the next one is reached too (stars never follow stars). */
  private skipStars(d: Uint32Array): void {
    let carry = 0;
    for (let w = 0; w < this.words; w++) {
      const stars = d[w]! & (this.star[w]! | this.globstar[w]!);
      const add = ((stars << 1) | carry) >>> 0;
      carry = stars >>> 31;
      d[w] = (d[w]! | add) >>> 0;
    }
  }
}

/** Matches when any of the globs does. */
export class GlobSet {
  readonly globs: readonly Glob[];
  constructor(globs: readonly string[]) {
    this.globs = globs.map((g) => Glob.compile(g));
  }
  matches(value: string, stats?: GlobStats): boolean {
    return this.globs.some((g) => g.matches(value, stats));
  }
  matchesPrefix(prefix: string, stats?: GlobStats): boolean {
    return this.globs.some((g) => g.matchesPrefix(prefix, stats));
  }
  get size(): number {
    return this.globs.length;
  }
}

/** One-off match of `value` against `glob`. */
export function globMatches(glob: string, value: string, stats?: GlobStats): boolean {
  return Glob.compile(glob).matches(value, stats);
}
