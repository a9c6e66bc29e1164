import { withRootfsImage } from '@bundlefarm/rootfs';
const t0 = performance.now();
const src = process.argv[2]!;
let last = '';
await withRootfsImage({
  source: src.includes('.tar') ? { tarball: src } : { tree: src },
  scratchDir: '/tmp/bv-exp/smoke',
  onProgress: (p) => { if (p.phase !== last) { console.log(p.phase, ((performance.now() - t0) / 1000).toFixed(2)); last = p.phase; } },
}, async () => console.log('built', ((performance.now() - t0) / 1000).toFixed(2)));
console.log('seconds', (performance.now() - t0) / 1000);
