import { spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, open, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The benchmark images, built once and cached (default ~/.cache/bundlefarm/bench, or
 * $BUNDLEFARM_BENCH_DIR):
 *  - rootfs: a 2 GiB ext4 image of a Debian bookworm root filesystem made with debootstrap (as in
 *    docs/performance-notes), or, without debootstrap or root, an ext4 image of real files from /usr;
 *  - random: 1 GiB of incompressible data;
 *  - sparse-4g: a 4 GiB image, mostly holes, with 64 MiB of real data spread over it;
 *  - sparse-10g: the same at the 10 GiB limit (memory check).
 */
export interface BenchImage {
  id: string;
  path: string;
  size: number;
  description: string;
  sha256: string;
}

const DEBOOTSTRAP_PACKAGES =
  'systemd-sysv,linux-image-cloud-amd64,grub-pc-bin,openssh-server,sudo,python3,curl,ca-certificates,less,vim-tiny,iproute2,ifupdown,isc-dhcp-client,locales,man-db,perl';

function sh(cmd: string, args: string[], what: string): void {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${what} failed: ${cmd} ${args.join(' ')}: ${r.stderr?.trim().split('\n').slice(-3).join(' | ')}`);
}

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function aptMirror(): string {
  try {
    const text = readFileSync('/etc/apt/sources.list.d/debian.sources', 'utf8');
    const m = /^URIs:\s*(\S+)/m.exec(text);
    if (m && !m[1]!.includes('security')) return m[1]!;
  } catch {
    // no deb822 sources: fall through
  }
  try {
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+\s+main/m.exec(readFileSync('/etc/apt/sources.list', 'utf8'));
    if (m) return m[1]!;
  } catch {
    // none
  }
  return 'http://deb.debian.org/debian';
}

async function rootfsImage(dir: string, log: (s: string) => void): Promise<{ path: string; description: string }> {
  const path = join(dir, 'rootfs-2g.img');
  const marker = `${path}.source`;
  if (existsSync(path) && existsSync(marker)) return { path, description: readFileSync(marker, 'utf8') };
  if (!has('mkfs.ext4')) throw new Error('mkfs.ext4 is needed to build the rootfs benchmark image (apt-get install e2fsprogs)');
  let tree = join(dir, 'rootfs-tree');
  let description: string;
  const isRoot = process.getuid?.() === 0;
  if (existsSync(join(tree, 'etc', 'debian_version'))) {
    description = `ext4 of a debootstrap'ed Debian bookworm (minbase + ${DEBOOTSTRAP_PACKAGES.split(',').length} packages)`;
  } else if (has('debootstrap') && isRoot) {
    log(`building a Debian rootfs with debootstrap from ${aptMirror()} (a few minutes, once)`);
    await rm(tree, { recursive: true, force: true });
    sh('debootstrap', ['--variant=minbase', `--include=${DEBOOTSTRAP_PACKAGES}`, 'bookworm', tree, aptMirror()], 'debootstrap');
    description = `ext4 of a debootstrap'ed Debian bookworm (minbase + ${DEBOOTSTRAP_PACKAGES.split(',').length} packages)`;
  } else {
    tree = join(dir, 'usr-tree');
    log('debootstrap unavailable (or not root): building an ext4 image of real files from /usr instead');
    await rm(tree, { recursive: true, force: true });
    await mkdir(tree, { recursive: true });
    for (const sub of ['share', 'lib/x86_64-linux-gnu', 'bin']) {
      if (existsSync(join('/usr', sub))) sh('cp', ['-a', '--parents', join('/usr', sub), tree], 'copying /usr');
    }
    description = 'ext4 of real files copied from /usr (share, lib/x86_64-linux-gnu, bin)';
  }
  const tmp = `${path}.tmp`;
  await rm(tmp, { force: true });
  await writeFile(tmp, '');
  await truncate(tmp, 2 * 1024 ** 3);
  sh('mkfs.ext4', ['-q', '-F', '-L', 'rootfs', '-d', tree, tmp], 'mkfs.ext4 -d');
  await rename(tmp, path);
  await writeFile(marker, description);
  return { path, description };
}

async function randomImage(dir: string): Promise<string> {
  const path = join(dir, 'random-1g.img');
  if (existsSync(path) && statSync(path).size === 1024 ** 3) return path;
  const c = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16));
  const h = await open(`${path}.tmp`, 'w');
  const step = Buffer.alloc(8 * 1024 * 1024);
  for (let at = 0; at < 1024 ** 3; at += step.length) await h.write(c.update(step), 0, step.length, at);
  await h.close();
  await rename(`${path}.tmp`, path);
  return path;
}

/** Holes with `dataMiB` of real data (text-like and random, 1 MiB islands) spread evenly. */
async function sparseImage(dir: string, name: string, size: number, dataMiB: number): Promise<string> {
  const path = join(dir, name);
  if (existsSync(path) && statSync(path).size === size) return path;
  await writeFile(`${path}.tmp`, '');
  await truncate(`${path}.tmp`, size);
  const h = await open(`${path}.tmp`, 'r+');
  const c = createCipheriv('aes-128-ctr', Buffer.alloc(16, 3), Buffer.alloc(16));
  const mib = 1024 * 1024;
  for (let i = 0; i < dataMiB; i++) {
    const offset = Math.floor(((i + 0.5) / dataMiB) * (size - mib) / 4096) * 4096;
    let data: Buffer;
    if (i % 2) data = c.update(Buffer.alloc(mib));
    else {
      const lines: string[] = [];
      let n = 0;
      for (let k = 0; n < mib; k++) {
        const s = `${i}:${k} /var/lib/dpkg/info/package-${k % 499}.list ${k * 2654435761 % 1000003}\n`;
        lines.push(s);
        n += s.length;
      }
      data = Buffer.from(lines.join('')).subarray(0, mib);
    }
    await h.write(data, 0, data.length, offset);
  }
  await h.close();
  await rename(`${path}.tmp`, path);
  return path;
}

async function sha256Cached(path: string): Promise<string> {
  const st = statSync(path);
  const cache = `${path}.sha256`;
  if (existsSync(cache)) {
    const [hash, size, mtime] = readFileSync(cache, 'utf8').trim().split(' ');
    if (Number(size) === st.size && Number(mtime) === Math.floor(st.mtimeMs)) return hash!;
  }
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) h.update(chunk as Buffer);
  const hash = h.digest('hex');
  await writeFile(cache, `${hash} ${st.size} ${Math.floor(st.mtimeMs)}\n`);
  return hash;
}

export async function prepareImages(dir: string, ids: readonly string[], log: (s: string) => void): Promise<BenchImage[]> {
  await mkdir(dir, { recursive: true });
  const out: BenchImage[] = [];
  for (const id of ids) {
    let path: string;
    let description: string;
    if (id === 'rootfs') ({ path, description } = await rootfsImage(dir, log));
    else if (id === 'random') {
      path = await randomImage(dir);
      description = '1 GiB of random data';
    } else if (id === 'sparse-4g') {
      path = await sparseImage(dir, 'sparse-4g.img', 4 * 1024 ** 3, 64);
      description = '4 GiB sparse image, 64 MiB of data';
    } else if (id === 'sparse-10g') {
      path = await sparseImage(dir, 'sparse-10g.img', 10 * 1024 ** 3, 64);
      description = '10 GiB sparse image (the limit), 64 MiB of data';
    } else throw new Error(`unknown benchmark image ${id}`);
    log(`image ${id}: ${path}`);
    out.push({ id, path, size: statSync(path).size, description, sha256: await sha256Cached(path) });
  }
  return out;
}

export { sha256Cached };

/**
 * The debootstrapped root tree the rootfs image is made from (bundle-vol rows), and a tarball of it made
 * as a CI job would (`tar --numeric-owner --xattrs --acls`, bundle-tar rows). Undefined when the image
 * was made from /usr instead (no debootstrap or not root).
 */
export async function rootfsSources(dir: string): Promise<{ tree: string; tarball: string; fileBytes: number } | undefined> {
  const tree = join(dir, 'rootfs-tree');
  if (!existsSync(join(tree, 'etc', 'debian_version'))) return undefined;
  const tarball = join(dir, 'rootfs-tree.tar');
  if (!existsSync(tarball)) {
    sh('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls', '-C', tree, '-cf', `${tarball}.tmp`, '.'], 'tar of the rootfs tree');
    await rename(`${tarball}.tmp`, tarball);
  }
  const du = spawnSync('du', ['-s', '-b', '--apparent-size', tree], { encoding: 'utf8' });
  return { tree, tarball, fileBytes: Number(du.stdout.split(/\s/)[0]) };
}
