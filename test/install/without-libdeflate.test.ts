// The fresh machine: libdeflate-dev absent (its header hidden with BUNDLEFARM_LIBDEFLATE_HEADER), the
// addon is built all the same, without its libdeflate part, and says so in one line with the command
// that adds it; native AES, SEEK_DATA and O_DIRECT stay on; the native, engine-backend and CLI-backend
// tests pass against that build, the libdeflate ones skipping with the reason named.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { bundlefarm } from '../helpers/cli.js';
import { REPO } from '../helpers/fixtures.js';
import { writeIdentity } from '../helpers/identity.js';
import { writeRandomFile } from '../helpers/images.js';
import { slowOnly } from '../helpers/requirements.js';
import { tempDir } from '../helpers/temp-dir.js';

const NATIVE = join(REPO, 'packages', 'native');
const LINE =
  /^bundlefarm native addon: built WITHOUT libdeflate \(BUNDLEFARM_LIBDEFLATE_HEADER=\/nonexistent does not exist\) — aes: native, holes: SEEK_DATA, part writes: O_DIRECT; deflate: zlib \(slower, ~2% larger output\)\. To add libdeflate: apt-get install libdeflate-dev && npm rebuild$/;

/** This environment without what would change the outcome: CI's requirement switches, the runner's context. */
function baseEnv(): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _c, BUNDLEFARM_REQUIRE_NATIVE: _r, BUNDLEFARM_NATIVE: _n, BUNDLEFARM_DEFLATE: _d, BUNDLEFARM_NATIVE_ADDON: _a, ...env } = process.env;
  return env;
}

/** Builds a copy of packages/native with libdeflate.h hidden; returns the copy's directory. */
async function buildWithoutLibdeflate(extra: Record<string, string> = {}) {
  const dir = await tempDir('bundlefarm-native-copy-');
  for (const entry of ['binding.gyp', 'package.json', 'src', 'scripts']) await cp(join(NATIVE, entry), join(dir, entry), { recursive: true });
  const r = spawnSync(process.execPath, ['scripts/build.mjs'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...baseEnv(), BUNDLEFARM_LIBDEFLATE_HEADER: '/nonexistent', ...extra },
  });
  return { dir, addon: join(dir, 'build', 'Release', 'bundlefarm_native.node'), ...r };
}

describe('a machine without libdeflate-dev', { skip: slowOnly('builds the addon again, then runs the native tests against it') }, () => {
  it('builds the addon without libdeflate, says so in one line, and fails the build only when CI requires the full addon', async () => {
    const built = await buildWithoutLibdeflate();
    assert.equal(built.status, 0, built.stderr);
    assert.match(built.stdout.trimEnd(), LINE);
    assert.equal(built.stdout.trimEnd().split('\n').length, 1, 'one line');
    const probe = spawnSync(process.execPath, ['-e', `const b = require(${JSON.stringify(built.addon)}); console.log(JSON.stringify({ libdeflate: b.libdeflate, deflatePiece: typeof b.deflatePiece, crc32: typeof b.crc32, aes: b.aesCbcAvailable() }))`], { encoding: 'utf8' });
    assert.deepEqual(JSON.parse(probe.stdout), { libdeflate: null, deflatePiece: 'undefined', crc32: 'undefined', aes: true });

    const required = spawnSync(process.execPath, ['scripts/build.mjs'], {
      cwd: built.dir,
      encoding: 'utf8',
      env: { ...baseEnv(), BUNDLEFARM_LIBDEFLATE_HEADER: '/nonexistent', BUNDLEFARM_REQUIRE_NATIVE: '1' },
    });
    assert.equal(required.status, 1, 'BUNDLEFARM_REQUIRE_NATIVE=1: a build without libdeflate fails');
    assert.match(required.stdout, /built WITHOUT libdeflate .*\[BUNDLEFARM_REQUIRE_NATIVE=1: failing the build\]/);
  });

  it('runs AES, SEEK_DATA and O_DIRECT natively and deflates with zlib; the native and backend tests pass, libdeflate ones skip named', async () => {
    const { addon, status, stderr } = await buildWithoutLibdeflate();
    assert.equal(status, 0, stderr);
    const env = { ...baseEnv(), BUNDLEFARM_NATIVE_ADDON: addon };

    const version = await bundlefarm(['bundle', '--version'], { env });
    assert.equal(version.stdout, '0.1.0\ndeflate: zlib, aes: native, holes: SEEK_DATA, part writes: O_DIRECT\n');

    const dir = await tempDir();
    const { key, cert } = await writeIdentity(dir);
    const image = join(dir, 'random.img');
    await writeRandomFile(image, 25 * 1024 * 1024, 3); // three parts, two of them full
    const out = join(dir, 'out');
    const b = await bundlefarm(['bundle', '-i', image, '-c', cert, '-k', key, '-u', '123456789012', '-r', 'x86_64', '-d', out, '--debug'], { env });
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stderr, /^bundlefarm: deflate falls back: the native addon was built without libdeflate .*apt-get install libdeflate-dev && npm rebuild\)$/m);
    assert.match(b.stderr, /^bundlefarm: part writes: 3 with O_DIRECT, 0 buffered$/m);
    assert.doesNotMatch(b.stderr, /aes falls back|holes falls back|partWrites falls back/);
    const u = await bundlefarm(['unbundle', '-m', join(out, 'random.img.manifest.xml'), '-k', key, '-d', join(dir, 'back')], { env });
    assert.equal(u.code, 0, u.stderr);

    const tests = spawnSync(
      process.execPath,
      ['scripts/run-tests.mjs', 'packages/native/test/', 'packages/engine/test/backends', 'packages/cli/test/backends'],
      { cwd: REPO, encoding: 'utf8', env: { ...env, BUNDLEFARM_TEST_CONCURRENCY: '1' }, maxBuffer: 64 * 1024 * 1024 },
    );
    assert.equal(tests.status, 0, `${tests.stdout}\n${tests.stderr}`);
    assert.match(tests.stdout, /^# skipped: \d+ tests? or suites?, by reason:$/m);
    assert.match(tests.stdout, /^# {3}\d+ × native: the native addon was built without libdeflate \(libdeflate\.h was not found; apt-get install libdeflate-dev && npm rebuild\) \(BUNDLEFARM_REQUIRE_NATIVE=1 makes this a failure\)$/m);
    // the core's suites ran: nothing else skipped
    assert.doesNotMatch(tests.stdout, /^# {3}\d+ × (?!native: the native addon was built without libdeflate)/m);
    for (const suite of ['native aesCbcEncrypt', 'native dataRuns (SEEK_DATA / SEEK_HOLE)', 'native alignedOffset', 'walkBlocks']) {
      assert.match(tests.stdout, new RegExp(`^✔ ${suite.replace(/[()/]/g, '\\$&')} \\(`, 'm'), `${suite} ran and passed`);
    }
  });
});
