#!/usr/bin/env node
// Measures the libdeflate binding against Node's zlib on one file, single-threaded (not a test).
//
//   node packages/native/scripts/measure.mjs [--file /tmp/rootfs.tar.S] [--limit MB]
//        [--levels 1,3,4,5,6] [--blocks 1,2,4] [--zlib-levels 4,5,6] [--verify]
//
// Speeds are MB of input per second of CPU time (and of wall time) on one thread.
// libdeflate: per block, deflatePiece(block, level, true) is timed (pure compression) and the block
// walker (walkBlocks) is timed on its output; the non-final piece deflatePiece(..., false) would
// return is exactly ceil((endBit + 3) / 8) + 4 bytes, which gives the concatenated size without
// compressing twice. zlib: deflateRawSync with the previous block's last 32 KiB as dictionary and
// Z_SYNC_FLUSH (Z_FINISH on the last block). Sizes include the 18 bytes of gzip header + trailer.
// --verify additionally builds the real pieces at the first level and block size, inflates their
// concatenation with zlib and compares it with the input.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';

const { values: opt } = parseArgs({
  options: {
    file: { type: 'string', default: '/tmp/rootfs.tar.S' },
    limit: { type: 'string' },
    levels: { type: 'string', default: '1,3,4,5,6' },
    blocks: { type: 'string', default: '1,2,4' },
    'zlib-levels': { type: 'string', default: '4,5,6' },
    verify: { type: 'boolean', default: false },
  },
});
const list = (s) => (s ? s.split(',').filter(Boolean).map(Number) : []);
const MiB = 1 << 20;
const binding = createRequire(import.meta.url)('../build/Release/bundlefarm_native.node');

const size = Math.min(statSync(opt.file).size, opt.limit ? Number(opt.limit) * 1e6 : Infinity);
const data = Buffer.allocUnsafe(size);
const fd = openSync(opt.file, 'r');
for (let off = 0; off < size; ) off += readSync(fd, data, off, Math.min(size - off, 64 * MiB), off);
closeSync(fd);
console.log(`${opt.file}: ${(size / 1e6).toFixed(1)} MB, libdeflate ${binding.version()}, node ${process.version}, single thread`);

const GZIP_OVERHEAD = 18;
// Wall time and the process's CPU time (user + system): the CPU figure is the per-thread speed
// even when other processes compete for the cores (all work here runs on the main thread).
class Timer {
  wall = 0;
  cpu = 0;
  time(fn) {
    const w = performance.now();
    const c = process.cpuUsage();
    const r = fn();
    const dc = process.cpuUsage(c);
    this.cpu += (dc.user + dc.system) / 1000;
    this.wall += performance.now() - w;
    return r;
  }
}
const mbps = (bytes, ms) => (bytes / 1e6 / (ms / 1000)).toFixed(1);
const speeds = (t) => ({ cpuMBps: mbps(size, t.cpu), wallMBps: mbps(size, t.wall) });
const mb = (bytes) => (bytes / 1e6).toFixed(2);
const blocksOf = (blockSize) => {
  const out = [];
  for (let off = 0; off < size; off += blockSize) out.push(data.subarray(off, Math.min(off + blockSize, size)));
  return out;
};

const rows = [];
for (const blockMiB of list(opt.blocks)) {
  const blocks = blocksOf(blockMiB * MiB);
  for (const level of list(opt.levels)) {
    const compress = new Timer();
    const walk = new Timer();
    let bytes = GZIP_OVERHEAD;
    blocks.forEach((block, i) => {
      const piece = compress.time(() => binding.deflatePiece(block, level, true));
      if (i === blocks.length - 1) {
        bytes += piece.length;
      } else {
        const { endBit } = walk.time(() => binding.walkBlocks(piece));
        bytes += Math.ceil((endBit + 3) / 8) + 4; // the non-final piece's size
      }
    });
    const total = { cpu: compress.cpu + walk.cpu, wall: compress.wall + walk.wall };
    const row = { engine: 'libdeflate', level, blockMiB, ...speeds(total), outMB: mb(bytes), ratio: (bytes / size).toFixed(4), walkerShare: `${((100 * walk.cpu) / compress.cpu).toFixed(1)}%` };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
}

for (const level of list(opt['zlib-levels'])) {
  const blocks = blocksOf(MiB);
  const t = new Timer();
  let bytes = GZIP_OVERHEAD;
  blocks.forEach((block, i) => {
    const last = i === blocks.length - 1;
    const options = { level, finishFlush: last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH };
    if (i > 0) options.dictionary = blocks[i - 1].subarray(-32768);
    bytes += t.time(() => zlib.deflateRawSync(block, options)).length;
  });
  const row = { engine: 'zlib (dict, sync flush)', level, blockMiB: 1, ...speeds(t), outMB: mb(bytes), ratio: (bytes / size).toFixed(4), walkerShare: '' };
  rows.push(row);
  console.log(JSON.stringify(row));
}

{
  const chunks = blocksOf(MiB);
  const lib = new Timer();
  const z = new Timer();
  let a = 0;
  let b = 0;
  for (const c of chunks) a = lib.time(() => binding.crc32(c, a));
  for (const c of chunks) b = z.time(() => zlib.crc32(c, b));
  if (a !== b) throw new Error(`crc32 mismatch: ${a} vs ${b}`);
  console.log(`crc32 on 1 MiB chunks (CPU time): libdeflate ${mbps(size, lib.cpu)} MB/s, zlib.crc32 ${mbps(size, z.cpu)} MB/s`);
}

if (opt.verify) {
  const level = list(opt.levels)[0] ?? 6;
  const blocks = blocksOf((list(opt.blocks)[0] ?? 1) * MiB);
  const pieces = blocks.map((b, i) => binding.deflatePiece(b, level, i === blocks.length - 1));
  const back = zlib.inflateRawSync(Buffer.concat(pieces));
  if (!back.equals(data)) throw new Error('verify: the concatenated pieces do not inflate to the input');
  console.log(`verify: ${pieces.length} pieces at level ${level} inflate to the input`);
}

console.log('\n| engine | level | block | MB/s (CPU time) | MB/s (wall) | output MB | ratio | walker / compress |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.engine} | ${r.level} | ${r.blockMiB} MiB | ${r.cpuMBps} | ${r.wallMBps} | ${r.outMB} | ${r.ratio} | ${r.walkerShare} |`);
