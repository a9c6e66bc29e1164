// FileImageSource.open() refuses what is not a regular file with a typed error, and leaves no file
// descriptor open behind it (Node would close it on garbage collection with a warning on stderr,
// which breaks the CLI's one-line errors).
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { FileImageSource } from '@bundlefarm/engine';
import { tempDir } from '@bundlefarm/testkit/temp-dir.js';

const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('FileImageSource', () => {
  it('refuses a directory or a device with BF_FILE_UNREADABLE, closing what it opened', async () => {
    const dir = await tempDir();
    const before = openFds();
    for (const path of [dir, '/dev/null']) {
      const source = new FileImageSource(path);
      await assert.rejects(source.open(), { code: 'BF_FILE_UNREADABLE' }, path);
      assert.equal(source.fd, undefined, `${path}: no descriptor kept`);
    }
    assert.equal(openFds(), before, 'no file descriptor left open');
  });
});
