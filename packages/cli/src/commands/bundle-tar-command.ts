import type { Command } from 'commander';
import type { CliIo, GlobalFlags } from '../cli-io.js';
import { addRootfsOptions, bundleRootfs, type RootfsFlags } from './rootfs-build.js';

interface BundleTarFlags extends RootfsFlags {
  file: string;
}

export function registerBundleTar(program: Command, io: CliIo, flags: () => GlobalFlags): void {
  const cmd = program
    .command('bundle-tar')
    .description('build an ext4 image of a rootfs tarball (owners and modes from the tar headers) and bundle it')
    .requiredOption('-f, --file <tarball>', 'ROOTFS.tar, .tar.gz, .tar.zst, .tar.xz or .tar.bz2 (by content); - reads stdin');
  addRootfsOptions(cmd).action(async (opts: BundleTarFlags) => {
    await bundleRootfs(io, flags(), opts, { tarball: opts.file }, {});
  });
}
