import { bundleImage, DirectorySink, WorkerPool } from '@bundlefarm/engine';
import { rmSync } from 'node:fs';
const [image, threadsS, blockS, roundsS] = process.argv.slice(2);
const threads = Number(threadsS), blockSize = Number(blockS) * 1024 * 1024;
const pool = new WorkerPool({ threads: Number(process.env.POOL ?? threads) });
// warm up the pool
const times: number[] = [];
for (let r = 0; r < Number(roundsS ?? 3); r++) {
  rmSync('/tmp/exp/out', { recursive: true, force: true });
  const t0 = performance.now();
  const res = await bundleImage({ image: image!, pool, threads, blockSize }, new DirectorySink('/tmp/exp/out'));
  times.push((performance.now() - t0) / 1000);
}
console.log(`threads=${threads} block=${blockS}MiB`, times.map((t) => t.toFixed(2)).join(' '));
await pool.close();
