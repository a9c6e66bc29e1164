#!/usr/bin/env node
// Runs every test file (packages/*/test and test/) with node:test through tsx.
// Usage: node scripts/run-tests.mjs [substring filters...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const filters = process.argv.slice(2);

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
const selected = filters.length ? files.filter((f) => filters.some((s) => f.includes(s))) : files;
selected.sort();
if (selected.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = process.env.BUNDLEFARM_TEST_CONCURRENCY ?? '2';
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...selected],
  { cwd: root, stdio: 'inherit' },
);
process.exit(r.status ?? 1);
