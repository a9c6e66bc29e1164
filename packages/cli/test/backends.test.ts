// `bundlefarm --version` and `bundle --debug` say which backend each native-backed stage runs, so a
// user can tell a machine without libdeflate (or without the addon) from a full one.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadNative } from '@bundlefarm/native';
import { bundlefarm } from '@bundlefarm/testkit/cli.js';
import { writeIdentity } from '@bundlefarm/testkit/identity.js';
import { textLike } from '@bundlefarm/testkit/images.js';
import { needsLibdeflate, needsNative } from '@bundlefarm/testkit/requirements.js';
import { tempDir } from '@bundlefarm/testkit/temp-dir.js';

const ALL_FALLBACKS = 'deflate: zlib, aes: node:crypto, holes: read scan, part writes: buffered';
const clean = { BUNDLEFARM_NATIVE: '', BUNDLEFARM_DEFLATE: '' };

describe('bundlefarm --version and --debug name the backends', () => {
  it('--version (also on bundle): the version, then deflate, aes, holes and part writes', { skip: needsLibdeflate() }, async () => {
    const version = loadNative().binding!.libdeflate!;
    for (const args of [['--version'], ['bundle', '--version'], ['-V']]) {
      const r = await bundlefarm(args, { env: clean });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `0.1.0\ndeflate: libdeflate ${version}, aes: native, holes: SEEK_DATA, part writes: O_DIRECT\n`, args.join(' '));
    }
  });

  it('BUNDLEFARM_NATIVE=off: every fallback', async () => {
    const r = await bundlefarm(['bundle', '--version'], { env: { ...clean, BUNDLEFARM_NATIVE: 'off' } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `0.1.0\n${ALL_FALLBACKS}\n`);
  });

  it('BUNDLEFARM_DEFLATE=zlib (the old switch): zlib deflate, the rest of the addon still in use', { skip: needsNative() }, async () => {
    const r = await bundlefarm(['--version'], { env: { ...clean, BUNDLEFARM_DEFLATE: 'zlib' } });
    assert.equal(r.stdout, '0.1.0\ndeflate: zlib, aes: native, holes: SEEK_DATA, part writes: O_DIRECT\n');
  });

  it('bundle --debug prints the backends and why a stage falls back, then how the parts were written', { skip: needsNative() }, async () => {
    const dir = await tempDir();
    const { key, cert } = await writeIdentity(dir);
    const image = join(dir, 'root.img');
    await writeFile(image, textLike(3 * 1024 * 1024));
    const args = (dest: string): string[] => ['bundle', '-i', image, '-c', cert, '-k', key, '-u', '123456789012', '-r', 'x86_64', '-d', join(dir, dest), '--debug'];
    const zlib = await bundlefarm(args('zlib'), { env: { ...clean, BUNDLEFARM_DEFLATE: 'zlib' } });
    assert.equal(zlib.code, 0, zlib.stderr);
    assert.match(zlib.stderr, /^bundlefarm: backends: deflate: zlib, aes: native, holes: SEEK_DATA, part writes: O_DIRECT$/m);
    assert.match(zlib.stderr, /^bundlefarm: deflate falls back: BUNDLEFARM_DEFLATE=zlib$/m);
    assert.match(zlib.stderr, /^bundlefarm: part writes: \d+ with O_DIRECT, \d+ buffered$/m);
    assert.match(zlib.stdout, /level 5, zlib,/);
    const quiet = await bundlefarm(args('quiet').slice(0, -1), { env: clean });
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /backends:/, 'only with --debug');
  });
});
