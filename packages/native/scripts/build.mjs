#!/usr/bin/env node
// Builds the optional native addon (libdeflate pieces, SEEK_DATA) (build/Release/bundlefarm_native.node) with
// node-gyp. It never fails the surrounding build: without libdeflate's header, a compiler or
// node-gyp it prints one line saying why and exits 0, and bundlefarm falls back to zlib.
// Skips the build when the .node file is newer than binding.gyp and the C sources.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(pkg, 'build', 'Release', 'bundlefarm_native.node');
const logFile = join(pkg, 'build', 'node-gyp.log');

function skip(reason) {
  console.log(`native addon not built: ${reason}; bundlefarm will use zlib`);
  process.exit(0);
}

const inputs = [join(pkg, 'binding.gyp'), ...readdirSync(join(pkg, 'src')).filter((f) => /\.[ch]$/.test(f)).map((f) => join(pkg, 'src', f))];
if (existsSync(out)) {
  const built = statSync(out).mtimeMs;
  if (inputs.every((f) => statSync(f).mtimeMs < built)) process.exit(0);
}

const includeDirs = [
  ...(process.env.C_INCLUDE_PATH ?? '').split(delimiter),
  ...(process.env.CPATH ?? '').split(delimiter),
  '/usr/include',
  '/usr/local/include',
].filter(Boolean);
if (!includeDirs.some((d) => existsSync(join(d, 'libdeflate.h')))) {
  skip('libdeflate.h not found (install libdeflate-dev)');
}

// node-gyp: the copy bundled with npm (works offline), else one on PATH.
const prefix = join(dirname(process.execPath), '..');
const bundled = join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const [cmd, baseArgs] = existsSync(bundled) ? [process.execPath, [bundled]] : ['node-gyp', []];
// Compile against the running Node's installed headers instead of downloading them.
const nodedir = process.env.npm_config_nodedir || (existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined);
const args = [...baseArgs, 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];

const r = spawnSync(cmd, args, { cwd: pkg, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
const log = `$ ${[cmd, ...args].join(' ')}\n${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `\n${r.error.message}` : ''}`;
try {
  mkdirSync(dirname(logFile), { recursive: true });
  writeFileSync(logFile, log);
} catch {
  // the log is a convenience only
}
if (r.error || r.status !== 0) {
  // The most useful line: a compiler error, else the error node-gyp stopped on.
  const lines = log.split('\n');
  const firstError = (
    lines.find((l) => /\berror:/i.test(l) && !l.startsWith('gyp ')) ??
    lines.find((l) => /^gyp ERR! stack \w*Error: /.test(l))?.replace('gyp ERR! stack ', '')
  )?.trim();
  const reason = r.error ? `${cmd}: ${r.error.message}` : `node-gyp exited with ${r.status ?? r.signal}${firstError ? `: ${firstError}` : ''}`;
  skip(`${reason} (log: ${logFile})`);
}

// The addon must also load (libdeflate.so present at run time, matching ABI).
const check = spawnSync(process.execPath, ['-e', `process.stdout.write(require(${JSON.stringify(out)}).version())`], { encoding: 'utf8' });
if (check.status !== 0) {
  skip(`the built addon does not load: ${(check.stderr || '').trim().split('\n').find((l) => l.includes('Error')) ?? 'unknown error'}`);
}
console.log(`native addon built: ${out} (libdeflate ${check.stdout})`);
