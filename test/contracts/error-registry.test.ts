// The one error registry against the code that raises the errors: every code used is in it, every code
// in it is used, each error class's `transient` agrees with the registry's `retry`, the API answers each
// code with the registry's status, and docs/errors.md is what the registry renders.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ERROR_REGISTRY, errorEntry, renderErrorTable } from '@bundlefarm/errors';
import { HTTP_STATUS_BY_CODE, httpStatusOf } from '@bundlefarm/server';

const root = fileURLToPath(new URL('../../', import.meta.url));
const REGISTRY_FILE = join('packages', 'errors', 'src', 'error-registry.ts');

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    if (e === 'node_modules' || e === 'dist' || e === 'test' || e.startsWith('.')) continue;
    const p = join(dir, e);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (e.endsWith('.ts') && !e.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const files = [...sources(join(root, 'packages')), ...sources(join(root, 'apps'))]
  .map((p) => ({ path: relative(root, p), text: readFileSync(p, 'utf8') }))
  .filter((f) => f.path !== REGISTRY_FILE);

/** The arguments of the call whose '(' is at `open`, split at top-level commas (strings and nesting skipped). */
function callArguments(text: string, open: number): string[] {
  const args: string[] = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'" || c === '"' || c === '`') {
      const quote = c;
      for (i++; i < text.length && text[i] !== quote; i++) if (text[i] === '\\') i++;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth === 0) {
        args.push(text.slice(start, i).trim());
        return args;
      }
    } else if (c === ',' && depth === 1) {
      args.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  throw new Error(`unbalanced call at ${open}`);
}

interface ErrorClass {
  name: string;
  code: string;
  file: string;
  /** The `transient` argument given to BundlefarmError's constructor, when it is a literal. */
  transient: boolean | undefined;
}

const classes: ErrorClass[] = files.flatMap(({ path, text }) =>
  [...text.matchAll(/class (\w+) extends \w+\s*\{\s*(?:\/\/[^\n]*\n\s*)*static readonly code = '(BF_[A-Z0-9_]+)'/g)].map((m) => {
    const next = text.indexOf('super(', m.index);
    const args = next < 0 ? [] : callArguments(text, next + 'super'.length);
    const literal = args[2];
    return { name: m[1]!, code: m[2]!, file: path, transient: literal === 'true' ? true : literal === 'false' ? false : undefined };
  }),
);

describe('the error registry', () => {
  it('holds every code the source uses, and each code in it is used', () => {
    const used = new Map<string, string>();
    for (const { path, text } of files) for (const m of text.matchAll(/['"`](BF_[A-Z0-9_]+)['"`]/g)) used.set(m[1]!, path);
    const missing = [...used].filter(([code]) => errorEntry(code) === undefined).map(([code, path]) => `${code} (${path})`);
    assert.deepEqual(missing, [], 'codes used in the source but not in packages/errors/src/error-registry.ts');
    const unused = Object.keys(ERROR_REGISTRY).filter((code) => !used.has(code));
    assert.deepEqual(unused, [], 'codes in the registry that nothing raises');
  });

  it('gives each code to one error class at most, whose transient flag agrees with the registry', () => {
    assert.ok(classes.length > 40, `found ${classes.length} error classes: the scan is broken`);
    const byCode = new Map<string, ErrorClass[]>();
    for (const c of classes) byCode.set(c.code, [...(byCode.get(c.code) ?? []), c]);
    const shared = [...byCode].filter(([, cs]) => cs.length > 1).map(([code, cs]) => `${code}: ${cs.map((c) => `${c.name} (${c.file})`).join(', ')}`);
    assert.deepEqual(shared, [], 'one code, one class: a code two classes raise cannot say one thing');
    const disagree = classes
      .filter((c) => c.transient !== undefined)
      .filter((c) => ERROR_REGISTRY[c.code as keyof typeof ERROR_REGISTRY].retry !== (c.transient ? 'yes' : 'no'))
      .map((c) => `${c.code}: ${c.name} says transient=${String(c.transient)}, the registry retry=${ERROR_REGISTRY[c.code as keyof typeof ERROR_REGISTRY].retry}`);
    assert.deepEqual(disagree, []);
  });

  it('is where the API takes each status from', () => {
    for (const [code, entry] of Object.entries(ERROR_REGISTRY)) {
      assert.equal(HTTP_STATUS_BY_CODE[code], entry.http, code);
      assert.equal(httpStatusOf(code, true), entry.http, code);
    }
    assert.equal(httpStatusOf('BF_SOMETHING_ELSE', true), 503, 'unknown and transient: try again later');
    assert.equal(httpStatusOf('BF_SOMETHING_ELSE', false), 500);
    for (const [code, entry] of Object.entries(ERROR_REGISTRY)) {
      assert.ok(entry.http >= 400 && entry.http < 600, `${code}: ${entry.http} is an error status`);
      assert.ok(entry.meaning.length > 10 && !entry.meaning.includes('\n'), `${code}: one line of meaning`);
    }
  });

  it('is documented in docs/errors.md exactly as it renders (npm run docs:errors)', () => {
    const doc = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
    assert.equal(doc, renderErrorTable(), 'docs/errors.md is stale: run `npm run docs:errors`');
    for (const code of Object.keys(ERROR_REGISTRY)) assert.ok(doc.includes(`| \`${code}\` |`), code);
  });
});
