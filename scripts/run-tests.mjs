#!/usr/bin/env node
// Runs every test file (packages/*/test, apps/*/test and test/) with node:test through tsx, then prints
// what was skipped and why (so that a skip is never silent).
//
// Usage: node scripts/run-tests.mjs [--fast] [substring filters...]
//
// --fast (npm run test:fast; also BUNDLEFARM_TEST_TIER=fast): the quick tier. It leaves out the fault
// suites (test/faults) and the load test (test/load), and sets BUNDLEFARM_TEST_TIER=fast, which skips
// the multi-GiB tests (slowOnly in test/helpers/requirements.ts). `npm test` runs everything.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const fast = args.includes('--fast') || process.env.BUNDLEFARM_TEST_TIER === 'fast';
const filters = args.filter((a) => a !== '--fast');
/** Suites the fast tier leaves out whole. */
const SLOW_DIRECTORIES = [join('test', 'faults') + sep, join('test', 'load') + sep];

function walk(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e === 'node_modules' || e === 'dist' || e.startsWith('.')) continue;
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (e.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

const files = [];
for (const pkg of readdirSync(join(root, 'packages'))) walk(join(root, 'packages', pkg, 'test'), files);
for (const app of readdirSync(join(root, 'apps'))) walk(join(root, 'apps', app, 'test'), files);
walk(join(root, 'test'), files);
let selected = filters.length ? files.filter((f) => filters.some((s) => f.includes(s))) : files;
if (fast) {
  const left = selected.filter((f) => SLOW_DIRECTORIES.some((d) => f.startsWith(d)));
  selected = selected.filter((f) => !left.includes(f));
  if (left.length > 0) console.log(`# fast tier: leaving out ${left.sort().join(', ')} (npm test runs them)`);
}
selected.sort();
if (selected.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = process.env.BUNDLEFARM_TEST_CONCURRENCY ?? '2';
const tapDir = mkdtempSync(join(tmpdir(), 'bundlefarm-tap-'));
const tap = join(tapDir, 'report.tap');
const r = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...selected,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, ...(fast ? { BUNDLEFARM_TEST_TIER: 'fast' } : {}) } },
);
printSkips();
rmSync(tapDir, { recursive: true, force: true });
process.exit(r.status ?? 1);

/** Every skipped test or suite, grouped by reason. */
function printSkips() {
  let text = '';
  try {
    text = readFileSync(tap, 'utf8');
  } catch {
    return;
  }
  const reasons = new Map();
  for (const line of text.split('\n')) {
    const m = /^\s*ok \d+ - .*? # SKIP(?: (.*))?$/.exec(line);
    if (!m) continue;
    const reason = m[1] ?? '(no reason given)';
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }
  const total = [...reasons.values()].reduce((a, b) => a + b, 0);
  if (total === 0) {
    console.log(`\n# skipped: nothing${fast ? ' (fast tier: see above for what it left out)' : ''}`);
    return;
  }
  console.log(`\n# skipped: ${total} test${total === 1 ? '' : 's'} or suite${total === 1 ? '' : 's'}, by reason:`);
  for (const [reason, n] of [...reasons].sort((a, b) => b[1] - a[1])) console.log(`#   ${n} × ${reason}`);
}
