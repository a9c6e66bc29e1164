import { dirname } from 'node:path';
import type { Command } from 'commander';
import { DirectorySource, verifyBundle } from '@bundlefarm/engine';
import { readCertificateFile } from '@bundlefarm/format';
import { out, type CliIo, type GlobalFlags } from '../cli-io.js';
import { createProgressView } from '../progress-bar.js';
import { readManifestFile } from '../read-manifest.js';

interface VerifyFlags {
  manifest: string;
  cert?: string;
  source?: string;
}

export function registerVerify(program: Command, io: CliIo, flags: () => GlobalFlags): void {
  program
    .command('verify')
    .description("check a bundle without its private key: signature (with -c) and every part's SHA-1")
    .requiredOption('-m, --manifest <path>', 'NAME.manifest.xml')
    .option('-c, --cert <pem>', "user's certificate: check the manifest's signature")
    .option('-s, --source <dir>', "directory holding the parts (default: the manifest's directory)")
    .action(async (opts: VerifyFlags) => {
      const parsed = await readManifestFile(opts.manifest);
      const certificate = opts.cert ? await readCertificateFile(opts.cert) : undefined;
      const view = createProgressView(!flags().quiet, 'verifying', io.stderr);
      try {
        const report = await verifyBundle({
          manifest: parsed,
          source: new DirectorySource(opts.source ?? dirname(opts.manifest)),
          ...(certificate ? { certificate } : {}),
          onPart: (i, n) => view.update(i + 1, n, `${i + 1}/${n} parts`),
        });
        view.stop();
        out(io, `signature: ${report.signatureChecked ? `valid (${opts.cert})` : 'not checked (no -c)'}`);
        out(io, `parts:     ${report.parts} present, every SHA-1 matches (${report.bundledSize} bytes)`);
        out(io, 'bundle OK');
      } finally {
        view.stop();
      }
    });
}
