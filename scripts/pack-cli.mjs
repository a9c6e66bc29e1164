#!/usr/bin/env node
// Packs the bundlefarm command as one tarball that installs anywhere the npm registry is reachable:
//
//   npm run pack:cli                      # → ./bundlefarm-cli-<version>.tgz
//   npm install -g ./bundlefarm-cli-<version>.tgz && bundlefarm --version
//
// `npm pack` of apps/cli alone gives a tarball that does not install: it depends on the workspace
// packages (@bundlefarm/cli and what that uses), which are not published. So this script packs the
// command with every workspace package it needs inside it, as bundled dependencies:
//
//   1. `npm pack` of apps/cli and of each workspace package it reaches through its dependencies (npm's own
//      choice of files: each package's `files`, so dist/ but no tests; the native addon's C sources and its
//      build script, not a build made on this machine);
//   2. each unpacked into a staging directory, the workspace packages under node_modules/@bundlefarm/;
//   3. the staged package.json: not private, the workspace packages listed as dependencies and as
//      bundleDependencies, and the registry packages they need as the command's own dependencies, so npm
//      installs them beside the bundle (and taken out of the bundled packages' package.json: see below):
//      every package of their tree npm puts at the top, at the version of the root package-lock.json (npm
//      resolves their ranges against that lock here, offline: lockedTree), and for each root `overrides`
//      entry its parent at a version that takes the overridden child (OVERRIDE_PINS). Exact versions,
//      because an installed package carries no lock: npm applies no `overrides` but the installing project's
//      own, and reads no npm-shrinkwrap.json from a tarball (npm 11: only when the registry says a version has
//      one; npm 12: never). Without them `npm install -g` resolves afresh, to other versions than the ones
//      tested here, some wanting a newer Node than `engines` (EBADENGINE warnings on Node 20);
//   4. `npm pack` of the staging directory, renamed bundlefarm-cli-<version>.tgz.
//
// npm runs the bundled native package's install script (node scripts/build.mjs) at install, as for a
// clone: it builds the addon where a C compiler is, and otherwise says what is missing and bundlefarm
// falls back (it never fails the install).
//
// Needs `npm run build` first (the packages' dist/); the root script `pack:cli` runs it.
// Usage: node scripts/pack-cli.mjs [--out DIR] (default: the repository root). Prints the tarball's path.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const APP = 'apps/cli';

function fail(message) {
  console.error(`pack-cli: ${message}`);
  process.exit(1);
}

function parseArgs(argv) {
  let out = root;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && argv[i + 1] !== undefined) out = resolve(argv[++i]);
    else fail(`unknown argument ${argv[i]} (usage: node scripts/pack-cli.mjs [--out DIR])`);
  }
  return { out };
}

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

/** name → { dir, manifest } for every workspace of the root package.json. */
function workspaces() {
  const byName = new Map();
  for (const dir of readJson(join(root, 'package.json')).workspaces) {
    const manifest = readJson(join(root, dir, 'package.json'));
    byName.set(manifest.name, { dir, manifest });
  }
  return byName;
}

/** The workspace packages `start` reaches through dependencies, and the registry dependencies they ask for. */
function closure(byName, start) {
  const internal = [];
  const external = new Map(); // name → { range, from }
  const visit = (name) => {
    if (internal.includes(name)) return;
    internal.push(name);
    const { manifest } = byName.get(name);
    if (manifest.peerDependencies && Object.keys(manifest.peerDependencies).length > 0) fail(`${name} has peerDependencies: not handled here`);
    for (const [dep, range] of Object.entries({ ...manifest.dependencies, ...manifest.optionalDependencies })) {
      if (byName.has(dep)) {
        visit(dep);
        continue;
      }
      const seen = external.get(dep);
      if (seen && seen.range !== range) fail(`${dep}: ${seen.from} asks for ${seen.range}, ${name} for ${range}; make them agree`);
      external.set(dep, { range, from: name });
    }
  };
  visit(start);
  return { internal, external };
}

/** Runs a command, failing the script with its output when it fails; its stdout. */
function sh(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? r.status ?? r.signal}):\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  return r.stdout;
}

/** The registry packages' entries of the root package-lock.json (the workspaces' links and folders left out), by path. */
function rootLockEntries() {
  const lock = readJson(join(root, 'package-lock.json'));
  if (lock.lockfileVersion < 2 || !lock.packages) fail(`package-lock.json is lockfileVersion ${lock.lockfileVersion}; this script reads version 2 or 3`);
  const entries = new Map();
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!path.startsWith('node_modules/') || entry.link) continue;
    entries.set(path, entry);
  }
  return entries;
}

const nameAt = (path, entry) => entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);

/**
 * Each root `overrides` entry ("child X under parent P at range R"), for the installed tarball, where npm applies
 * none (step 3): P pinned at the newest version whose own range for X takes R (found with
 * `npm view P versions dependencies.X`). Both pin away from releases that want Node >=22.
 */
const OVERRIDE_PINS = {
  '@fastify/static': { child: 'content-disposition', version: '10.1.3' }, // 10.1.4 on: content-disposition ^3
  'light-my-request': { child: 'cookie', version: '6.6.0' }, // 6.8.0 on: cookie ^2
};

/**
 * The command's registry dependencies as npm resolves them from the root package-lock.json (step 3), by path:
 * a package-lock.json seeded with the root lock's registry entries (dependency flags left for npm to work out),
 * the bundled packages and the root `overrides`, then `npm install --package-lock-only`, which keeps every locked
 * version that satisfies its ranges and drops what the command does not use. Stops when npm chose a version the
 * root lock does not have (the root lock is out of date: run `npm install` in the checkout).
 */
function lockedTree(stage, manifest, bundled, overrides) {
  const fromRoot = rootLockEntries();
  const packages = { '': { name: manifest.name, version: manifest.version } };
  for (const field of ['dependencies', 'optionalDependencies', 'bin', 'engines', 'license']) {
    if (manifest[field] !== undefined) packages[''][field] = manifest[field];
  }
  for (const [path, entry] of fromRoot) {
    const { dev: _d, optional: _o, devOptional: _do, peer: _p, extraneous: _e, ...kept } = entry;
    packages[path] = kept;
  }
  for (const name of bundled) {
    const path = `node_modules/${name}`;
    const staged = readJson(join(stage, path, 'package.json'));
    const entry = { version: staged.version, inBundle: true };
    for (const field of ['dependencies', 'optionalDependencies', 'bin', 'engines', 'license']) {
      if (staged[field] !== undefined) entry[field] = staged[field];
    }
    if (['preinstall', 'install', 'postinstall'].some((s) => staged.scripts?.[s])) entry.hasInstallScript = true;
    packages[path] = entry;
  }
  const seed = { name: manifest.name, version: manifest.version, lockfileVersion: 3, requires: true, packages };
  const resolving = { ...manifest, ...(overrides ? { overrides } : {}) };
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(resolving, null, 2)}\n`);
  writeFileSync(join(stage, 'package-lock.json'), `${JSON.stringify(seed, null, 2)}\n`);
  // --offline: everything is in the seed; a version it lacks is the root lock being out of date, not a fetch
  sh('npm', ['install', '--package-lock-only', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], stage);
  const lock = readJson(join(stage, 'package-lock.json'));
  rmSync(join(stage, 'package-lock.json'));

  const inRoot = new Set([...fromRoot].map(([path, entry]) => `${nameAt(path, entry)}@${entry.version}`));
  const tree = new Map();
  const drifted = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.inBundle) continue;
    const id = `${nameAt(path, entry)}@${entry.version}`;
    if (!inRoot.has(id)) drifted.push(id);
    tree.set(path, entry);
  }
  if (drifted.length > 0) fail(`npm resolved versions that package-lock.json does not have (run npm install in the checkout): ${drifted.join(', ')}`);
  return tree;
}

/**
 * The staged package's own registry dependencies: every package the locked tree has at the top (where npm puts it
 * again, and where whatever asks for it finds it: an exact version here is a version fixed for the whole tree,
 * as far as the askers' ranges take it), at the locked version; optional ones as optionalDependencies (the
 * platform builds a machine skips); and each override's parent at its OVERRIDE_PINS version (`repinned`).
 */
function pinnedDependencies(tree, overrides) {
  const dependencies = {};
  const optionalDependencies = {};
  const repinned = [];
  for (const [path, entry] of tree) {
    const name = path.slice('node_modules/'.length);
    if (name.includes('/node_modules/')) continue; // nested under its asker (no version at the top takes its range): npm resolves it there again
    (entry.optional ? optionalDependencies : dependencies)[name] = entry.version;
  }
  for (const [parent, children] of Object.entries(overrides ?? {})) {
    if (!tree.has(`node_modules/${parent}`)) continue; // not used by the command
    const pin = OVERRIDE_PINS[parent];
    const asked = typeof children === 'object' ? Object.keys(children) : [];
    if (!pin || asked.length !== 1 || asked[0] !== pin.child) {
      fail(`the root override of ${parent} (${JSON.stringify(children)}) has no equivalent for the packed command: add it to OVERRIDE_PINS`);
    }
    const into = dependencies[parent] === undefined ? optionalDependencies : dependencies;
    into[parent] = pin.version;
    repinned.push(`${parent}@${pin.version}`);
  }
  const sorted = (o) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
  return { dependencies: sorted(dependencies), optionalDependencies: sorted(optionalDependencies), repinned };
}

function main() {
  const { out } = parseArgs(process.argv.slice(2));
  const byName = workspaces();
  const app = [...byName.values()].find((w) => w.dir === APP);
  if (!app) fail(`${APP} is not a workspace of ${root}`);
  const { internal, external } = closure(byName, app.manifest.name);
  const bundled = internal.filter((n) => n !== app.manifest.name).sort();
  for (const name of bundled) {
    const { dir, manifest } = byName.get(name);
    const entry = manifest.exports?.['.']?.default ?? manifest.main;
    if (entry && !existsSync(join(root, dir, entry))) fail(`${name}: ${join(dir, entry)} is missing; run \`npm run build\` first`);
  }

  const work = mkdtempSync(join(tmpdir(), 'bundlefarm-pack-cli-'));
  try {
    const tarballs = join(work, 'tarballs');
    const stage = join(work, 'stage');
    mkdirSync(tarballs);
    mkdirSync(stage);
    // one npm pack for all of them; --ignore-scripts: no prepack/prepare (the root's would build again)
    const packed = JSON.parse(sh('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tarballs, ...internal.flatMap((n) => ['-w', n])], root));
    const fileOf = new Map(packed.map((p) => [p.name, join(tarballs, p.filename)]));
    for (const name of internal) {
      const file = fileOf.get(name);
      if (!file) fail(`npm pack gave no tarball for ${name}`);
      const into = name === app.manifest.name ? stage : join(stage, 'node_modules', ...name.split('/'));
      mkdirSync(into, { recursive: true });
      sh('tar', ['-xzf', file, '-C', into, '--strip-components=1'], root);
    }

    // a bundled package's registry dependencies become the command's own (step 3), and only those: npm counts
    // whatever a bundled package depends on, installed beside it, as part of the bundle, and so (installing
    // globally) would link none of their bins and run their install scripts without them (msgpackr-extract's fails)
    for (const name of bundled) {
      const file = join(stage, 'node_modules', ...name.split('/'), 'package.json');
      const staged = readJson(file);
      for (const field of ['dependencies', 'optionalDependencies']) {
        if (!staged[field]) continue;
        staged[field] = Object.fromEntries(Object.entries(staged[field]).filter(([dep]) => byName.has(dep)));
      }
      writeFileSync(file, `${JSON.stringify(staged, null, 2)}\n`);
    }

    const manifest = readJson(join(stage, 'package.json'));
    delete manifest.private;
    delete manifest.devDependencies;
    const version = manifest.version;
    manifest.description = `${manifest.description ?? 'bundlefarm'}; the workspace packages bundled (packed by scripts/pack-cli.mjs)`;
    const rootManifest = readJson(join(root, 'package.json'));
    manifest.engines = rootManifest.engines;
    manifest.license = manifest.license ?? rootManifest.license;
    manifest.dependencies = Object.fromEntries([
      ...bundled.map((n) => [n, byName.get(n).manifest.version]),
      ...[...external.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([dep, { range }]) => [dep, range]),
    ]);
    manifest.bundleDependencies = bundled;
    const tree = lockedTree(stage, manifest, bundled, rootManifest.overrides);
    const pinned = pinnedDependencies(tree, rootManifest.overrides);
    manifest.dependencies = { ...Object.fromEntries(bundled.map((n) => [n, byName.get(n).manifest.version])), ...pinned.dependencies };
    if (Object.keys(pinned.optionalDependencies).length > 0) manifest.optionalDependencies = pinned.optionalDependencies;
    writeFileSync(join(stage, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);

    const [result] = JSON.parse(sh('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tarballs], stage));
    const missing = bundled.filter((n) => !result.bundled.includes(n));
    if (missing.length > 0) fail(`npm pack left out bundled packages: ${missing.join(', ')}`);
    mkdirSync(out, { recursive: true });
    const target = join(out, `bundlefarm-cli-${version}.tgz`);
    copyFileSync(join(tarballs, result.filename), target); // not rename: the temporary directory may be another file system
    console.log(
      `pack-cli: ${result.entryCount} files, ${bundled.length} workspace packages bundled, ${external.size} registry dependencies ` +
        `(${Object.keys(pinned.dependencies).length + Object.keys(pinned.optionalDependencies).length - pinned.repinned.length} pinned at package-lock.json's versions; ` +
        `for its overrides: ${pinned.repinned.join(', ') || 'none'})`,
    );
    console.log(target);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
