/*
 * What `bundle-vol` and `bundle-tar` share: the filesystem flags (ec2-bundle-vol's names where it has
 * them), the printed list of what was left out, the "building filesystem" progress, and the hand-off
 * of the built image to the bundler.
 */
import { Option, type Command } from 'commander';
import { InvalidOptionError } from '@bundlefarm/errors';
import { withRootfsImage, type BuildRootfsOptions, type ExclusionSummary, type PartitionScheme, type RootfsSource } from '@bundlefarm/rootfs';
import { out, type CliIo, type GlobalFlags } from '../cli-io.js';
import { intOption } from '../option-parsers.js';
import { createProgressView, formatBytes } from '../progress-bar.js';
import { addBundleOptions, prepareBundle, runBundle, withInterrupt, type BundleRunFlags } from './bundle-run.js';

export interface RootfsFlags extends BundleRunFlags {
  exclude?: string[];
  include?: string[];
  size?: number;
  fstab?: string;
  generateFstab?: boolean;
  inherit?: boolean;
  filter: boolean;
  partition: PartitionScheme;
  label?: string;
  fsFeatures?: string;
  scratch?: string;
  batch?: boolean;
}

function list(value: string, previous: string[] = []): string[] {
  return previous.concat(value.split(',').map((s) => s.trim()).filter(Boolean));
}

/** Flags of both commands; `-d` defaults to /tmp and `-p` to "image", as in ec2-bundle-vol. */
export function addRootfsOptions(cmd: Command): Command {
  cmd
    .option('-d, --destination <dir>', 'directory for the manifest and parts (created if missing)', '/tmp')
    .option('-p, --prefix <name>', 'bundle name', 'image')
    .option('-e, --exclude <paths>', 'paths to leave out, comma-separated (repeatable)', list)
    .option('-i, --include <paths>', 'excluded paths to bring back, comma-separated (repeatable)', list)
    .option('-s, --size <MiB>', 'image size in MiB, at most 10240 (default: the content plus headroom)', intOption('--size', 16, 10240))
    .option('--fstab <file>', "write this file as the image's /etc/fstab")
    .option('--generate-fstab', 'write an /etc/fstab that mounts the root filesystem by its UUID')
    .option('--no-inherit', "accepted for ec2-bundle-vol scripts: bundlefarm never reads instance metadata (give --kernel, --ramdisk, -B, --productcodes)")
    .option('--no-filter', 'keep private keys, SSH host keys, ~/.ssh, shell histories and cloud-init data')
    .addOption(new Option('-P, --partition <type>', 'none (filesystem image, paravirtual), mbr or gpt (disk image, HVM)').choices(['none', 'mbr', 'gpt']).default('none'))
    .option('--label <label>', 'filesystem label')
    .option('--fs-features <list>', 'extra mke2fs -O features, e.g. ^metadata_csum,^64bit for old kernels and boot loaders')
    .option('--scratch <dir>', 'where the image is built (default: the destination directory)')
    .option('--batch', 'accepted for ec2-bundle-vol scripts (bundlefarm never prompts)');
  return addBundleOptions(cmd);
}

export async function bundleRootfs(
  io: CliIo,
  flags: GlobalFlags,
  opts: RootfsFlags,
  source: RootfsSource,
  extra: Partial<BuildRootfsOptions>,
): Promise<void> {
  if (opts.fstab && opts.generateFstab) throw new InvalidOptionError('--fstab', 'give either --fstab FILE or --generate-fstab, not both');
  const prepared = await prepareBundle(opts, io);
  const view = createProgressView(!flags.quiet, 'building filesystem', io.stderr);
  await withInterrupt((signal) =>
    withRootfsImage(
      {
        source,
        scratchDir: opts.scratch ?? opts.destination,
        ...(opts.size !== undefined ? { size: opts.size * 1024 * 1024 } : {}),
        partition: opts.partition,
        ...(opts.label ? { label: opts.label } : {}),
        ...(opts.fsFeatures ? { fsFeatures: opts.fsFeatures } : {}),
        ...(opts.exclude ? { excludes: opts.exclude } : {}),
        ...(opts.include ? { includes: opts.include } : {}),
        filter: opts.filter,
        ...(opts.fstab ? { fstab: { file: opts.fstab } } : opts.generateFstab ? { fstab: 'generate' as const } : {}),
        signal,
        onExclusions: (summary) => printExclusions(io, summary),
        onNote: (note) => io.stderr.write(`bundlefarm: note: ${note}\n`),
        onProgress: (p) =>
          view.update(Math.round((p.fraction ?? 0) * 1000), 1000, `${p.phase}, ${p.entries} entries, ${formatBytes(p.fileBytes)} of files`),
        ...extra,
      },
      async (image) => {
        view.stop();
        const where = image.partition === 'none' ? '' : `, ${image.partition} partition at ${image.fsOffset} bytes`;
        out(io, `filesystem: ext4 ${formatBytes(image.fsSize)}${where}, UUID ${image.uuid}${image.label ? `, label ${image.label}` : ''}`);
        out(io, `            ${image.entries} entries, ${image.files} files, ${formatBytes(image.fileBytes)} of files`);
        await mkdirDestination(opts.destination);
        await runBundle(io, flags, opts, prepared, image.path, signal, opts.prefix);
      },
    ),
  ).finally(() => view.stop());
}

async function mkdirDestination(dir: string): Promise<void> {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
}

function printExclusions(io: CliIo, summary: ExclusionSummary[]): void {
  if (summary.length === 0) return;
  out(io, 'excluded (-i PATH brings one back; --no-filter keeps the sensitive classes):');
  for (const c of summary) {
    const more = c.count > c.examples.length ? `, … (${c.count} in all)` : '';
    out(io, `  ${c.title}: ${c.examples.join(', ')}${more}`);
  }
}
