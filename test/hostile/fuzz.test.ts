import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isBundlefarmError } from '@bundlefarm/errors';
import { buildSparseTarHeader, buildTarHeader, parseManifest, serializeManifest, TarMemberReader, tarStreamLength } from '@bundlefarm/format';
import { FIXTURES } from '../helpers/fixtures.js';

/**
 * Property-based fuzzing of the two parsers that read untrusted bytes: whatever the input, they either
 * succeed with a consistent result or throw one of bundlefarm's typed errors — never another exception,
 * never a hang.
 */
const runs = Number(process.env.BUNDLEFARM_FUZZ_RUNS ?? 300);

const manifests = [
  readFileSync(join(FIXTURES, 'small', 'small.img.manifest.xml'), 'utf8'),
  readFileSync(join(FIXTURES, 'ec2-ami-tools-full.manifest.xml'), 'utf8'),
  readFileSync(join(FIXTURES, 'euca2ools-sample.manifest.xml'), 'utf8'),
];

const fragments = [
  '<', '>', '/', "'", '"', '&', '&amp;', '&lt;', '&#x41;', '&#0;', '&xxe;', '<!DOCTYPE x [<!ENTITY a "aaaa">]>', '<!ENTITY b SYSTEM "file:///etc/passwd">',
  '<![CDATA[x]]>', '<?pi x?>', '<!-- c -->', '<part index=\'0\'>', '</part>', "<parts count='99999999'>", '<size>-1</size>',
  '<size>18446744073709551616</size>', '<filename>../../etc/passwd</filename>', '<filename>/abs</filename>', "index='-1'", '\u0000', '\uffff', 'A'.repeat(10_000),
];

/** A mutation of a real manifest: cut, insert fragments, duplicate or delete spans. */
const mutatedManifest = fc
  .tuple(
    fc.constantFrom(...manifests),
    fc.array(
      fc.record({
        kind: fc.constantFrom('insert', 'delete', 'duplicate', 'truncate', 'replace'),
        at: fc.nat(),
        len: fc.nat({ max: 200 }),
        fragment: fc.oneof(fc.constantFrom(...fragments), fc.string({ maxLength: 40 })),
      }),
      { minLength: 1, maxLength: 6 },
    ),
  )
  .map(([base, edits]) => {
    let s = base;
    for (const e of edits) {
      const at = s.length === 0 ? 0 : e.at % s.length;
      if (e.kind === 'insert') s = s.slice(0, at) + e.fragment + s.slice(at);
      else if (e.kind === 'delete') s = s.slice(0, at) + s.slice(at + e.len);
      else if (e.kind === 'duplicate') s = s.slice(0, at + e.len) + s.slice(at, at + e.len) + s.slice(at + e.len);
      else if (e.kind === 'truncate') s = s.slice(0, at);
      else s = s.slice(0, at) + e.fragment + s.slice(at + e.fragment.length);
    }
    return s;
  });

describe('manifest parser fuzzing', () => {
  it('mutated manifests: a consistent manifest or BF_MANIFEST_MALFORMED, nothing else', () => {
    fc.assert(
      fc.property(mutatedManifest, (xml) => {
        let parsed;
        try {
          parsed = parseManifest(xml);
        } catch (err) {
          assert.ok(isBundlefarmError(err) && err.code === 'BF_MANIFEST_MALFORMED', `unexpected ${String(err)}`);
          return;
        }
        const { manifest } = parsed;
        // what the parser accepts is self-consistent
        assert.equal(manifest.image.parts.length, new Set(manifest.image.parts.map((p) => p.index)).size);
        manifest.image.parts.forEach((p, i) => assert.equal(p.index, i));
        for (const p of manifest.image.parts) assert.ok(!p.filename.includes('/') && p.filename !== '..');
        assert.ok(Number.isSafeInteger(manifest.image.size) && manifest.image.size >= 0);
        // and it serializes and parses back to the same model
        assert.deepEqual(parseManifest(serializeManifest(manifest)).manifest, manifest);
      }),
      { numRuns: runs, seed: 20261125 },
    );
  });

  it('arbitrary strings never escape as anything but a typed error', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 2000 }), (s) => {
        try {
          parseManifest(s);
        } catch (err) {
          assert.ok(isBundlefarmError(err), String(err));
        }
      }),
      { numRuns: runs, seed: 7 },
    );
  });

  it('entity and size bombs are refused quickly', () => {
    const bomb =
      "<?xml version='1.0'?><!DOCTYPE m [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'><!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>]><manifest><version>&c;</version></manifest>";
    const t = performance.now();
    assert.throws(() => parseManifest(bomb), /DOCTYPE/);
    assert.throws(() => parseManifest(`<manifest>${'<x>'.repeat(200_000)}</manifest>`), (e: unknown) => isBundlefarmError(e));
    assert.ok(performance.now() - t < 5000);
  });
});

/** A valid tar stream of one member (plain or sparse) with random content. */
const validStream = fc
  .record({
    size: fc.nat({ max: 50_000 }),
    sparse: fc.boolean(),
    seed: fc.nat(),
  })
  .map(({ size, sparse, seed }) => {
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = (i * 31 + seed) & 0xff;
    if (sparse && size > 2048) {
      const runs = [
        { offset: 0, length: 512 },
        { offset: Math.floor(size / 2), length: Math.min(700, size - Math.floor(size / 2)) },
      ];
      for (let i = 0; i < size; i++) if (!runs.some((r) => i >= r.offset && i < r.offset + r.length)) data[i] = 0;
      const header = buildSparseTarHeader({ name: 'img', size, mtime: 1 }, runs);
      const body = Buffer.concat(runs.map((r) => data.subarray(r.offset, r.offset + r.length)));
      const total = tarStreamLength(body.length, header.length);
      return { data, stream: Buffer.concat([header, body, Buffer.alloc(total - header.length - body.length)]) };
    }
    const header = buildTarHeader({ name: 'img', size, mtime: 1 });
    return { data, stream: Buffer.concat([header, data, Buffer.alloc(tarStreamLength(size) - 512 - size)]) };
  });

function readStream(stream: Buffer, chunks: number[]): Buffer | Error {
  const reader = new TarMemberReader({ maxSize: 1024 * 1024 });
  const out: Array<{ offset: number; data: Buffer }> = [];
  try {
    let at = 0;
    let k = 0;
    while (at < stream.length) {
      const n = Math.max(1, chunks[k++ % chunks.length]!);
      for (const s of reader.push(stream.subarray(at, at + n))) out.push({ offset: s.offset, data: Buffer.from(s.data) });
      at += n;
    }
    const member = reader.end();
    const file = Buffer.alloc(member.size);
    for (const s of out) s.data.copy(file, s.offset);
    return file;
  } catch (err) {
    return err as Error;
  }
}

describe('tar reader fuzzing', () => {
  it('valid streams read back the same bytes whatever the chunking (plain and sparse)', () => {
    fc.assert(
      fc.property(validStream, fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 8 }), ({ data, stream }, chunks) => {
        const got = readStream(stream, chunks);
        assert.ok(Buffer.isBuffer(got), String(got));
        assert.ok(got.equals(data));
      }),
      { numRuns: runs, seed: 3 },
    );
  });

  it('mutated streams: the right bytes or BF_ARCHIVE_INVALID, never another exception', () => {
    fc.assert(
      fc.property(
        validStream,
        fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 10 }),
        fc.nat({ max: 100 }),
        ({ stream }, flips, cut) => {
          const s = Buffer.from(stream);
          for (const f of flips) s[f.at % s.length] = f.byte;
          const mutated = cut > 90 ? s.subarray(0, Math.floor((s.length * cut) / 200)) : s;
          const got = readStream(mutated, [4096]);
          if (!Buffer.isBuffer(got)) assert.ok(isBundlefarmError(got) && got.code === 'BF_ARCHIVE_INVALID', String(got));
        },
      ),
      { numRuns: runs, seed: 11 },
    );
  });

  it('what GNU tar can extract from a mutated header, we either read identically or refuse', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bundlefarm-fuzz-'));
    try {
      fc.assert(
        fc.property(validStream, fc.integer({ min: 0, max: 511 }), fc.integer({ min: 0, max: 255 }), ({ stream }, at, byte) => {
          const s = Buffer.from(stream);
          s[at] = byte;
          const ours = readStream(s, [1000]);
          if (!Buffer.isBuffer(ours)) return; // refusing is always allowed
          writeFileSync(join(dir, 'x.tar'), s);
          const t = spawnSync('tar', ['-x', '-O', '-f', join(dir, 'x.tar')], { maxBuffer: 8 * 1024 * 1024 });
          if (t.status === 0 && t.stdout.length === ours.length) assert.ok(t.stdout.equals(ours), 'same bytes as GNU tar');
        }),
        { numRuns: Math.min(runs, 150), seed: 5 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
