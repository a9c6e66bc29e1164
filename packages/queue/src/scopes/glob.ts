/*
 * Globs matched in time linear in the value: the glob is compiled to the states of a small NFA (one per
 * token) and the value is run through it once, keeping the set of states it may be in (Thompson's
 * construction, as RE2 does) — never backtracking. Each character costs at most two visits per state,
 * so a match costs O(|glob| × |value|) steps in the worst case and O(|value|) for a given glob; a glob of
 * many `**` costs less, as an active `**` state makes every state before it redundant (dropped).
 *
 * Syntax, matched against the whole value: `*` any run of characters but `/`; `**` (two or more `*`)
 * any run including `/`; `?` one character but `/`; everything else is literal (no escapes, no classes).
 * `v*` matches `v1.2.0` but not `v1/beta`; `release/**` matches `release/2024/q1` and `release/`.
 */

type Token = { kind: 'char'; ch: string } | { kind: 'one' } | { kind: 'star' } | { kind: 'globstar' };

/** Counts the work of matches, for tests and budgets: one step per NFA state visited. */
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
  private readonly tokens: Token[];
  /** Per state, the generation it was last added in (dedup without clearing). */
  private readonly mark: Int32Array;
  private generation = 0;

  private constructor(source: string) {
    this.source = source;
    this.tokens = tokenize(source);
    this.mark = new Int32Array(this.tokens.length + 1).fill(-1);
  }

  static compile(glob: string): Glob {
    return new Glob(glob);
  }

  /** The glob has no wildcard: it matches only itself. */
  get literal(): boolean {
    return this.tokens.every((t) => t.kind === 'char');
  }

  /** Whether the whole `value` matches. */
  matches(value: string, stats?: GlobStats): boolean {
    const end = this.run(value, stats);
    return end !== undefined && end.includes(this.tokens.length);
  }

  /** Whether some value starting with `prefix` could match (for checks of templates whose end is not known yet). */
  matchesPrefix(prefix: string, stats?: GlobStats): boolean {
    const end = this.run(prefix, stats);
    return end !== undefined && end.length > 0;
  }

  /** The states after reading `value`, or undefined once none is left. */
  private run(value: string, stats?: GlobStats): number[] | undefined {
    const tokens = this.tokens;
    let current: number[] = [];
    let steps = 0;
    let gen = this.nextGeneration();
    // adds `state` and what it reaches without reading (a star may match nothing)
    const add = (list: number[], state: number): void => {
      for (let s = state; ; s++) {
        steps++;
        if (this.mark[s] === gen) return;
        this.mark[s] = gen;
        list.push(s);
        const t = tokens[s];
        if (t === undefined || (t.kind !== 'star' && t.kind !== 'globstar')) return;
      }
    };
    add(current, 0);
    for (const c of value) {
      gen = this.nextGeneration();
      const next: number[] = [];
      let globstar = -1;
      for (const s of current) {
        steps++;
        const t = tokens[s];
        if (t === undefined) continue;
        switch (t.kind) {
          case 'char':
            if (t.ch === c) add(next, s + 1);
            break;
          case 'one':
            if (c !== '/') add(next, s + 1);
            break;
          case 'star':
            if (c !== '/') add(next, s);
            break;
          case 'globstar':
            add(next, s);
            globstar = Math.max(globstar, s);
            break;
        }
      }
      // an active `**` stays active to the end: every state before it can only lead back to it
      current = globstar > 0 ? next.filter((s) => s >= globstar) : next;
      if (current.length === 0) break;
    }
    if (stats) stats.steps += steps;
    return current.length > 0 ? current : undefined;
  }

  private nextGeneration(): number {
    // Int32 marks: wrap long before overflow, clearing the marks once
    if (this.generation >= 0x7fff_ffff) {
      this.generation = 0;
      this.mark.fill(-1);
    }
    return this.generation++;
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
