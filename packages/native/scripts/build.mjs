#!/usr/bin/env node
// Builds the optional libdeflate binding with node-gyp. Never fails the install: without libdeflate's
// headers or a compiler, bundlefarm uses zlib and this prints why.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(pkg, 'build', 'Release', 'bundlefarm_native.node');
const sources = ["binding.c", "deflate-piece.c", "deflate-piece.h", "data-runs.c", "data-runs.h"].map((f) => join(pkg, "src", f)).concat(join(pkg, "binding.gyp"));

function skip(reason) {
  console.log(`native binding not built: ${reason}; bundlefarm will use zlib`);
  process.exit(0);
}

if (process.env.BUNDLEFARM_DEFLATE === 'zlib') skip('BUNDLEFARM_DEFLATE=zlib');
const header = ['/usr/include/libdeflate.h', '/usr/local/include/libdeflate.h'].find((p) => existsSync(p));
if (!header) skip('libdeflate.h not found (apt-get install libdeflate-dev)');
if (existsSync(out) && sources.every((s) => statSync(s).mtimeMs < statSync(out).mtimeMs)) process.exit(0);

const candidates = [
  join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  process.env.npm_config_node_gyp,
].filter(Boolean);
const gyp = candidates.find((p) => existsSync(p));
// Build against the headers of the running Node when they are installed (no download needed).
const prefix = join(dirname(process.execPath), '..');
const gypArgs = ['rebuild', ...(existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [])];
const r = gyp
  ? spawnSync(process.execPath, [gyp, ...gypArgs], { cwd: pkg, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' })
  : spawnSync('node-gyp', gypArgs, { cwd: pkg, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (r.error || r.status !== 0) {
  const detail = (r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' | ');
  skip(`node-gyp failed (${detail})`);
}
console.log(`native binding built: ${out}`);
