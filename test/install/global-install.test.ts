// `npm install -g` from a clone gives a `bundlefarm` command that works from any directory: the
// checkout's apps/cli linked into a temporary global prefix, then `bundlefarm demo` run from another
// directory (no npx, no checkout on the way), with the demo's "try it yourself" lines using it.
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO } from '../helpers/fixtures.js';
import { needsTools } from '../helpers/requirements.js';
import { run } from '../helpers/run.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('npm install -g from a clone', { skip: needsTools(['npm'], 'install npm (it comes with Node.js)') }, () => {
  it('puts a bundlefarm command on the global bin path that runs the demo from any directory', async () => {
    const prefix = await tempDir('bundlefarm-global-prefix-');
    const elsewhere = await tempDir('bundlefarm-elsewhere-');
    const install = await run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--ignore-scripts', join(REPO, 'apps', 'cli')], { cwd: elsewhere, env: process.env });
    assert.equal(install.code, 0, install.stderr);
    const bin = join(prefix, 'bin', 'bundlefarm');
    // nothing of the checkout on the way: another directory, PATH through the prefix only, no NODE_PATH
    const { NODE_PATH: _np, NODE_OPTIONS: _no, ...env } = process.env;
    const demo = await run(bin, ['demo', '--dir', join(elsewhere, 'demo'), '--size', '4'], { cwd: elsewhere, env: { ...env, PATH: `${join(prefix, 'bin')}:${dirname(process.execPath)}:/usr/bin:/bin` } });
    assert.equal(demo.code, 0, demo.stderr);
    assert.match(demo.stdout, /unbundled .*: identical to the image/);
    const tries = demo.stdout.split('\n').filter((l) => /^ {2}\S*bundlefarm /.test(l));
    assert.equal(tries.length, 3, demo.stdout);
    for (const line of tries) assert.match(line, /^ {2}bundlefarm (verify|unbundle|bundle) /, 'the try-it lines use the command itself');
    // and one of them, as printed, works from here
    const verify = await run('sh', ['-c', tries[0]!.trim()], { cwd: elsewhere, env: { ...env, PATH: `${join(prefix, 'bin')}:${dirname(process.execPath)}:/usr/bin:/bin` } });
    assert.equal(verify.code, 0, verify.stderr);
  });
});
