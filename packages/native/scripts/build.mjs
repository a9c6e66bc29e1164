#!/usr/bin/env node
// Builds the native addon (build/Release/bundlefarm_native.node) with node-gyp, run by `npm install`
// (the root `prepare`) and by `npm rebuild` (this package's `install` script).
//
// One addon in two shapes. Its core — AES-128-CBC in place, SEEK_DATA data runs, aligned offsets for
// O_DIRECT, the deflate block walker — needs only a C compiler and Node's headers. The libdeflate
// part (deflate pieces, CRC-32) is compiled in when libdeflate.h is found (HAVE_LIBDEFLATE).
//
// It never fails the surrounding install: it prints one line saying what was built, what is missing
// and the command that adds it, and exits 0 (bundlefarm then falls back per feature: zlib,
// node:crypto, a read-based hole scan, buffered part writes). Except with BUNDLEFARM_REQUIRE_NATIVE=1
// (CI): then anything short of the full addon exits 1.
//
// BUNDLEFARM_LIBDEFLATE_HEADER=/path/to/libdeflate.h uses that header instead of looking for one in
// C_INCLUDE_PATH, CPATH, /usr/include and /usr/local/include (the library is then found through the
// compiler's usual search path, e.g. LIBRARY_PATH); a path that does not exist builds the addon
// without libdeflate, as on a machine without libdeflate-dev.
//
// Skips the build (and prints the line of the last one) when the .node file is newer than binding.gyp
// and the C sources and was built for the same Node ABI with the same libdeflate header
// (build/bundlefarm-build.json records them), so installing libdeflate-dev and running `npm rebuild`
// does rebuild it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(pkg, 'build', 'Release', 'bundlefarm_native.node');
const logFile = join(pkg, 'build', 'node-gyp.log');
const stampFile = join(pkg, 'build', 'bundlefarm-build.json');
const required = process.env.BUNDLEFARM_REQUIRE_NATIVE === '1';
const ADD_LIBDEFLATE = 'apt-get install libdeflate-dev && npm rebuild';
const ADD_ALL = 'apt-get install build-essential python3 libdeflate-dev && npm rebuild';

/** Prints the one line, and exits (1 only when the full addon is required and this is not it). */
function finish(line, complete, remember = true) {
  if (remember) {
    try {
      writeFileSync(stampFile, JSON.stringify({ ...config, line, complete }) + '\n');
    } catch {
      // without the stamp the next install just builds again
    }
  }
  const failing = required && !complete;
  console.log(`bundlefarm native addon: ${line}${failing ? ' [BUNDLEFARM_REQUIRE_NATIVE=1: failing the build]' : ''}`);
  process.exit(failing ? 1 : 0);
}

function notBuilt(reason) {
  finish(`NOT built (${reason}) — deflate: zlib, aes: node:crypto, holes: read scan, part writes: buffered. To build it: ${ADD_ALL}`, false, false);
}

/** Where libdeflate.h is, or null with the reason it was not looked for or found. */
function findHeader() {
  const given = process.env.BUNDLEFARM_LIBDEFLATE_HEADER;
  if (given !== undefined && given !== '') {
    return existsSync(given) ? { path: given } : { path: null, why: `BUNDLEFARM_LIBDEFLATE_HEADER=${given} does not exist` };
  }
  const dirs = [...(process.env.C_INCLUDE_PATH ?? '').split(delimiter), ...(process.env.CPATH ?? '').split(delimiter), '/usr/include', '/usr/local/include'];
  const path = dirs.filter(Boolean).map((d) => join(d, 'libdeflate.h')).find((p) => existsSync(p));
  return path ? { path } : { path: null, why: 'libdeflate.h not found' };
}

const header = findHeader();
const config = { abi: process.versions.modules, libdeflateHeader: header.path };

const inputs = [join(pkg, 'binding.gyp'), ...readdirSync(join(pkg, 'src')).filter((f) => /\.[ch]$/.test(f)).map((f) => join(pkg, 'src', f))];
if (existsSync(out) && existsSync(stampFile)) {
  const built = statSync(out).mtimeMs;
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(stampFile, 'utf8'));
  } catch {
    stamp = undefined;
  }
  if (stamp && (stamp.complete || !required) && stamp.abi === config.abi && stamp.libdeflateHeader === config.libdeflateHeader && inputs.every((f) => statSync(f).mtimeMs < built)) {
    finish(stamp.line, stamp.complete, false);
  }
}

// node-gyp: the copy bundled with npm (works offline), else one on PATH.
const prefix = join(dirname(process.execPath), '..');
const bundled = join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const [cmd, baseArgs] = existsSync(bundled) ? [process.execPath, [bundled]] : ['node-gyp', []];
// Compile against the running Node's installed headers instead of downloading them.
const nodedir = process.env.npm_config_nodedir || (existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined);

let log = '';
/** One node-gyp rebuild; the most useful error line when it fails. */
function gyp(libdeflate, werror) {
  const args = [
    ...baseArgs,
    'rebuild',
    ...(nodedir ? [`--nodedir=${nodedir}`] : []),
    `--bundlefarm_libdeflate=${libdeflate ? 'yes' : 'no'}`,
    ...(libdeflate ? [`--bundlefarm_libdeflate_include=${dirname(header.path)}`] : []),
    `--bundlefarm_werror=${werror ? 'yes' : 'no'}`,
  ];
  const r = spawnSync(cmd, args, { cwd: pkg, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  const text = `$ ${[cmd, ...args].join(' ')}\n${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `\n${r.error.message}` : ''}\n`;
  log += text;
  if (!r.error && r.status === 0) return null;
  const lines = text.split('\n');
  const firstError = (
    lines.find((l) => /\berror:/i.test(l) && !l.startsWith('gyp ')) ??
    lines.find((l) => /^gyp ERR! stack \w*Error: /.test(l))?.replace('gyp ERR! stack ', '')
  )?.trim();
  return r.error ? `${cmd}: ${r.error.message}` : `node-gyp exited with ${r.status ?? r.signal}${firstError ? `: ${firstError}` : ''}`;
}

/** What the built addon has, from a fresh process (it must load: libdeflate.so present, matching ABI). */
function probe() {
  const script = `const b = require(${JSON.stringify(out)}); process.stdout.write(JSON.stringify({ libdeflate: b.libdeflate, aes: b.aesCbcAvailable() }))`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  if (r.status !== 0) return { error: (r.stderr || '').trim().split('\n').find((l) => l.includes('Error')) ?? 'unknown error' };
  return JSON.parse(r.stdout);
}

function writeLog() {
  try {
    mkdirSync(dirname(logFile), { recursive: true });
    writeFileSync(logFile, log);
  } catch {
    // the log is a convenience only
  }
}

// With libdeflate when its header is there; -Werror first (our sources build clean), then, unless
// CI requires it, without it (a newer compiler's new warning must not cost a user the addon); then,
// if libdeflate was the trouble, the core alone.
const attempts = [
  ...(header.path ? [{ libdeflate: true, werror: true }, ...(required ? [] : [{ libdeflate: true, werror: false }])] : []),
  { libdeflate: false, werror: true },
  ...(required ? [] : [{ libdeflate: false, werror: false }]),
];
const failures = [];
let built;
for (const a of attempts) {
  if (!a.werror && !failures.at(-1)?.includes('-Werror')) continue; // only retry what -Werror broke
  const err = gyp(a.libdeflate, a.werror);
  if (err) {
    failures.push(err);
    continue;
  }
  const p = probe();
  if (p.error) {
    failures.push(`the built addon does not load: ${p.error}`);
    continue;
  }
  built = { ...a, ...p };
  break;
}
writeLog();
if (!built) {
  rmSync(out, { force: true });
  rmSync(stampFile, { force: true });
  notBuilt(`${failures[0] ?? 'no build attempted'}; log: ${logFile}`);
}
const warnings = built.werror ? '' : ` (with compiler warnings, see ${logFile})`;
const aes = built.aes ? 'native' : "node:crypto (Node's OpenSSL symbols not found)";
if (built.libdeflate) {
  finish(`built with libdeflate ${built.libdeflate}${warnings} — deflate: libdeflate, aes: ${aes}, holes: SEEK_DATA, part writes: O_DIRECT`, built.aes && built.werror);
}
const why = header.path ? `building with ${header.path} failed: ${failures[0]}; log: ${logFile}` : header.why;
finish(
  `built WITHOUT libdeflate (${why})${warnings} — aes: ${aes}, holes: SEEK_DATA, part writes: O_DIRECT; deflate: zlib (slower, ~2% larger output). To add libdeflate: ${ADD_LIBDEFLATE}`,
  false,
);
