/**
 * Globs for webhook rule conditions, matched against whole values: `*` any run of characters but `/`,
 * `**` any run including `/`, `?` one character but `/`; everything else is literal. `v*` matches
 * `v1.2.0` but not `v1/beta`; `release/**` matches `release/2024/q1`; `acme/*` matches every repository
 * of the acme owner.
 */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        out += '.*';
        i++;
      } else {
        out += '[^/]*';
      }
    } else if (c === '?') {
      out += '[^/]';
    } else {
      out += c.replace(/[.+^${}()|[\]\\-]/g, '\\$&');
    }
  }
  return new RegExp(`^${out}$`, 's');
}

export type GlobMatcher = (value: string) => boolean;

export function compileGlobs(globs: string | readonly string[]): GlobMatcher {
  const res = (typeof globs === 'string' ? [globs] : globs).map(globToRegExp);
  return (value) => res.some((re) => re.test(value));
}
