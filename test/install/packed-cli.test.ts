// The packed command (`npm run pack:cli`, scripts/pack-cli.mjs) installs where only the tarball and the
// npm registry are: `npm install -g ./bundlefarm-cli-<version>.tgz` into a temporary global prefix, from a
// directory outside the checkout, with install scripts on (the bundled native addon builds as from a
// clone), then `bundlefarm --version` says what the checkout's says (the same version and native backends)
// and `bundlefarm demo` bundles, verifies and unbundles — no @bundlefarm package comes from the registry
// (none is published), and nothing of the checkout is on the way. The install prints no EBADENGINE warning
// on this Node (the project's promise; npm applies no `overrides` to an installed package, so the tarball
// pins instead), and installs the registry packages at the versions of the checkout's package-lock.json
// (what was tested here), but for the root overrides' parents, which the tarball pins to versions that take
// the overridden child.
//
// Needs the npm registry (the registry dependencies install from it): skipped with the reason printed
// when `npm ping` fails, except in CI (CI=true), where that fails the test.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { bundlefarm } from '../helpers/cli.js';
import { REPO } from '../helpers/fixtures.js';
import { announceSkip, needsTools } from '../helpers/requirements.js';
import { run } from '../helpers/run.js';
import { tempDir } from '../helpers/temp-dir.js';

/** This environment without the test runner's context (npm and the command must not see it). */
function baseEnv(): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _c, NODE_PATH: _np, NODE_OPTIONS: _no, ...env } = process.env;
  return env;
}

async function registrySkip(): Promise<string | false> {
  const tools = needsTools(['npm', 'tar'], 'install npm (it comes with Node.js) and tar');
  if (tools) return tools;
  const ping = await run('npm', ['ping'], { env: baseEnv(), cwd: REPO });
  if (ping.code === 0) return false;
  const reason = `the npm registry is not reachable (npm ping: ${(ping.stderr.trim().split('\n').pop() ?? '').slice(0, 200)}): the packed CLI's registry dependencies cannot install`;
  if (process.env.CI === 'true') throw new Error(`CI=true, but ${reason}`);
  announceSkip(reason);
  return reason;
}

/** path (node_modules/a/node_modules/b, relative to `dir`) → version of every package installed under `dir`. */
async function installedVersions(dir: string, rel = '', into = new Map<string, string>()): Promise<Map<string, string>> {
  let entries: string[];
  try {
    entries = await readdir(join(dir, 'node_modules'));
  } catch {
    return into;
  }
  for (const entry of entries.filter((e) => !e.startsWith('.'))) {
    const names = entry.startsWith('@') ? (await readdir(join(dir, 'node_modules', entry))).map((n) => `${entry}/${n}`) : [entry];
    for (const name of names) {
      const at = join(dir, 'node_modules', name);
      const path = `${rel}node_modules/${name}`;
      into.set(path, (JSON.parse(await readFile(join(at, 'package.json'), 'utf8')) as { version: string }).version);
      await installedVersions(at, `${path}/`, into);
    }
  }
  return into;
}

const skip = await registrySkip();

describe('the packed CLI (npm run pack:cli)', { skip, timeout: 600_000 }, () => {
  it('installs with npm install -g from the tarball alone; bundlefarm --version and bundlefarm demo work', { timeout: 600_000 }, async () => {
    const out = await tempDir('bundlefarm-packed-');
    const prefix = await tempDir('bundlefarm-packed-prefix-');
    const elsewhere = await tempDir('bundlefarm-packed-elsewhere-');
    const env = baseEnv();

    const packed = await run(process.execPath, [join(REPO, 'scripts', 'pack-cli.mjs'), '--out', out], { cwd: REPO, env });
    assert.equal(packed.code, 0, packed.stderr);
    const { version } = JSON.parse(await readFile(join(REPO, 'apps', 'cli', 'package.json'), 'utf8')) as { version: string };
    const tarball = join(out, `bundlefarm-cli-${version}.tgz`);
    assert.equal(packed.stdout.trim().split('\n').pop(), tarball, 'the script prints the tarball it wrote');
    assert.deepEqual(await readdir(out), [`bundlefarm-cli-${version}.tgz`]);
    // what is inside: the command and the workspace packages, built code only (no tests, no build of this machine's addon)
    const listing = await run('tar', ['-tzf', tarball], { env });
    assert.equal(listing.code, 0, listing.stderr);
    const files = listing.stdout.split('\n').filter(Boolean);
    assert.ok(files.includes('package/bin/bundlefarm.js'));
    assert.ok(files.includes('package/node_modules/@bundlefarm/cli/dist/index.js'));
    assert.ok(files.includes('package/node_modules/@bundlefarm/native/scripts/build.mjs'), 'the addon is built where it is installed');
    assert.deepEqual(
      files.filter((f) => /\/test\/|\.test\.|\.node$|\/build\/Release\//.test(f)),
      [],
      'no tests and no prebuilt addon in the tarball',
    );

    // the tarball alone: installed from elsewhere, install scripts on
    const install = await run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', tarball], { cwd: elsewhere, env });
    assert.equal(install.code, 0, `${install.stdout}\n${install.stderr}`);
    assert.doesNotMatch(`${install.stdout}\n${install.stderr}`, /EBADENGINE/, `npm warned of an engine mismatch:\n${install.stderr}`);
    // the registry packages as the checkout's lock has them (where it has them), but the overrides' parents
    const rootManifest = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { overrides?: Record<string, Record<string, string>> };
    const overridden = Object.keys(rootManifest.overrides ?? {});
    const locked = (JSON.parse(await readFile(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> }).packages;
    const packageDir = join(prefix, 'lib', 'node_modules', 'bundlefarm');
    const installedTree = await installedVersions(packageDir);
    const differing = [...installedTree].filter(
      ([path, version]) => !path.startsWith('node_modules/@bundlefarm/') && locked[path] !== undefined && locked[path].version !== version,
    );
    assert.deepEqual(
      differing.map(([path]) => path.slice('node_modules/'.length)).sort(),
      overridden.filter((name) => installedTree.has(`node_modules/${name}`)).sort(),
      `installed at other versions than package-lock.json's: ${differing.map(([path, v]) => `${path} ${v} (locked: ${locked[path]?.version})`).join(', ')}`,
    );
    for (const [parent, children] of Object.entries(rootManifest.overrides ?? {})) {
      for (const child of Object.keys(children)) {
        assert.ok(!installedTree.has(`node_modules/${parent}/node_modules/${child}`), `${parent} got its own ${child}, not the overridden one`);
      }
    }
    const bin = join(prefix, 'bin', 'bundlefarm');
    const path = `${join(prefix, 'bin')}:${dirname(process.execPath)}:/usr/bin:/bin`;

    const installedVersion = await run(bin, ['--version'], { cwd: elsewhere, env: { ...env, PATH: path } });
    assert.equal(installedVersion.code, 0, installedVersion.stderr);
    const checkoutVersion = await bundlefarm(['--version'], { env });
    assert.equal(checkoutVersion.code, 0, checkoutVersion.stderr);
    // the same version, and the native addon built at install as in the checkout (its backends line)
    assert.equal(installedVersion.stdout, checkoutVersion.stdout);
    assert.match(installedVersion.stdout, new RegExp(`^${version.replaceAll('.', '\\.')}\n`));

    const demo = await run(bin, ['demo', '--dir', join(elsewhere, 'demo'), '--size', '4'], { cwd: elsewhere, env: { ...env, PATH: path } });
    assert.equal(demo.code, 0, demo.stderr);
    assert.match(demo.stdout, /unbundled .*: identical to the image/);
    // the installed copy ran, not the checkout's
    const installed = join(prefix, 'lib', 'node_modules', 'bundlefarm', 'node_modules', '@bundlefarm', 'cli', 'package.json');
    assert.equal(JSON.parse(await readFile(installed, 'utf8')).name, '@bundlefarm/cli');
  });
});
