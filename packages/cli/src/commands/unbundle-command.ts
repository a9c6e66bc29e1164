import { dirname } from 'node:path';
import type { Command } from 'commander';
import { DirectorySource, unbundle } from '@bundlefarm/engine';
import { DestinationExistsError, InvalidOptionError } from '@bundlefarm/errors';
import { readCertificateFile } from '@bundlefarm/format';
import { out, type CliIo, type GlobalFlags } from '../cli-io.js';
import { loadPrivateKey } from '../load-identity.js';
import { createProgressView } from '../progress-bar.js';
import { readManifestFile } from '../read-manifest.js';

interface UnbundleFlags {
  manifest: string;
  privatekey: string;
  source?: string;
  destination?: string;
  output?: string;
  cert?: string;
  overwrite?: boolean;
}

export function registerUnbundle(program: Command, io: CliIo, flags: () => GlobalFlags): void {
  program
    .command('unbundle')
    .description('rebuild the image from a manifest and its parts (ec2-unbundle compatible), checking every digest')
    .requiredOption('-m, --manifest <path>', 'NAME.manifest.xml')
    .requiredOption('-k, --privatekey <pem>', "user's RSA private key the bundle was made for")
    .option('-s, --source <dir>', "directory holding the parts (default: the manifest's directory)")
    .option('-d, --destination <dir>', "directory to write the image into, as the manifest's <image><name> (created if missing; default: .)")
    .option('-o, --output <file>', 'write the image to exactly this file instead (its directory must exist)')
    .option('-c, --cert <pem>', "user's certificate: also check the manifest's signature")
    .option('--overwrite', 'replace an existing file at the image path', false)
    .action(async (opts: UnbundleFlags) => {
      if (opts.output !== undefined && opts.destination !== undefined) {
        throw new InvalidOptionError('-o/--output', 'give either -o FILE or -d DIR, not both');
      }
      const parsed = await readManifestFile(opts.manifest);
      const [privateKey, certificate] = await Promise.all([
        loadPrivateKey(opts.privatekey, io.env),
        opts.cert ? readCertificateFile(opts.cert) : Promise.resolve(undefined),
      ]);
      const view = createProgressView(!flags().quiet, 'unbundling', io.stderr);
      try {
        const result = await unbundle({
          manifest: parsed,
          privateKey,
          ...(certificate ? { certificate } : {}),
          source: new DirectorySource(opts.source ?? dirname(opts.manifest)),
          ...(opts.output !== undefined ? { output: opts.output } : { destination: opts.destination ?? '.' }),
          overwrite: opts.overwrite ?? false,
          onProgress: (p) => view.update(p.partsDone, p.partsTotal, `${p.partsDone}/${p.partsTotal} parts`),
        }).catch((err: unknown) => {
          if (err instanceof DestinationExistsError) throw new DestinationExistsError(String(err.details.path), 'give --overwrite to replace it');
          throw err;
        });
        view.stop();
        out(io, `image: ${result.path}`);
        out(io, `size:  ${result.size} bytes, tar SHA-1 ${result.digest} (matches the manifest)`);
      } finally {
        view.stop();
      }
    });
}
