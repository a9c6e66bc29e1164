import type { Command } from 'commander';
import type { CliIo, GlobalFlags } from '../cli-io.js';
import { addBundleOptions, prepareBundle, runBundle, withInterrupt, type BundleRunFlags } from './bundle-run.js';

interface BundleFlags extends BundleRunFlags {
  image: string;
}

export function registerBundle(program: Command, io: CliIo, flags: () => GlobalFlags): void {
  const cmd = program
    .command('bundle')
    .description('bundle a disk image into NAME.manifest.xml and NAME.part.N (ec2-bundle-image compatible)')
    .requiredOption('-i, --image <path>', 'image file to bundle (at most 10 GiB)')
    .option('-d, --destination <dir>', 'directory for the manifest and parts (created if missing; default /tmp, as ec2-bundle-image)', '/tmp')
    .option('-p, --prefix <name>', "bundle name (default: the image's file name)")
    .option('--batch', 'accepted for ec2-bundle-image scripts: bundlefarm never prompts (no effect)');
  addBundleOptions(cmd).action(async (opts: BundleFlags) => {
    // Validate everything before reading a byte of the image.
    const prepared = await prepareBundle(opts, io);
    await withInterrupt((signal) => runBundle(io, flags(), opts, prepared, opts.image, signal));
  });
}
