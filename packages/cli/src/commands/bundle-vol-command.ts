import type { Command } from 'commander';
import { InvalidOptionError } from '@bundlefarm/errors';
import type { OwnerMapping } from '@bundlefarm/rootfs';
import type { CliIo, GlobalFlags } from '../cli-io.js';
import { addRootfsOptions, bundleRootfs, type RootfsFlags } from './rootfs-build.js';

interface BundleVolFlags extends RootfsFlags {
  volume: string;
  all?: boolean;
  allRoot?: boolean;
  ownerMap?: string;
}

export function registerBundleVol(program: Command, io: CliIo, flags: () => GlobalFlags): void {
  const cmd = program
    .command('bundle-vol')
    .description('build an ext4 image of a directory tree (without root, without mounting) and bundle it (ec2-bundle-vol compatible)')
    .option('-v, --volume <dir>', 'the tree to bundle: a mounted volume, / or a debootstrap/mkosi output directory', '/')
    .option('-a, --all', 'include remote filesystems mounted in the volume (virtual ones never are)')
    .option('--all-root', 'make every entry owned by 0:0 (for a tree built without root)')
    .option('--owner-map <map>', 'change owners: FROM=TO (uid and gid), uid:FROM=TO, gid:FROM=TO, comma-separated');
  addRootfsOptions(cmd).action(async (opts: BundleVolFlags) => {
    const owners: OwnerMapping | undefined = opts.allRoot ? { allRoot: true } : opts.ownerMap ? parseOwnerMap(opts.ownerMap) : undefined;
    await bundleRootfs(io, flags(), opts, { tree: opts.volume }, {
      ...(opts.all ? { allFilesystems: true } : {}),
      ...(owners ? { owners } : {}),
      // the signing key and the destination never go into the image, wherever they are
      hostExcludes: [
        { path: opts.privatekey, cls: 'private-keys' },
        { path: opts.destination, cls: 'destination' },
        ...(opts.scratch ? [{ path: opts.scratch, cls: 'destination' as const }] : []),
      ],
    });
  });
}

function parseOwnerMap(spec: string): OwnerMapping {
  const uids = new Map<number, number>();
  const gids = new Map<number, number>();
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(?:(uid|gid):)?(\d+)=(\d+)$/.exec(part);
    if (!m) throw new InvalidOptionError('--owner-map', `${JSON.stringify(part)} is not FROM=TO, uid:FROM=TO or gid:FROM=TO`);
    const from = Number(m[2]);
    const to = Number(m[3]);
    if (from > 0xffffffff || to > 0xffffffff) throw new InvalidOptionError('--owner-map', `${part}: ids are 32-bit`);
    if (m[1] !== 'gid') uids.set(from, to);
    if (m[1] !== 'uid') gids.set(from, to);
  }
  return { uids, gids };
}
