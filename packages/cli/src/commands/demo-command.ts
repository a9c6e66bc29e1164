import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { createBundle, DirectorySink, DirectorySource, sharedThreadPool, unbundle, verifyBundle } from '@bundlefarm/engine';
import { ec2CertificateForRegion, generateSelfSignedIdentity, parseManifest } from '@bundlefarm/format';
import { readFile } from 'node:fs/promises';
import { out, type CliIo, type GlobalFlags } from '../cli-io.js';
import { intOption } from '../option-parsers.js';

interface DemoFlags {
  dir?: string;
  size: number;
  service?: boolean;
  dataDir?: string;
}

/**
 * The README's first command: a throwaway key pair and a sample image, bundled, verified and unbundled,
 * with no Redis, no S3 and no AWS account. Prints where everything is.
 */
export function registerDemo(program: Command, io: CliIo, flags: () => GlobalFlags): void {
  program
    .command('demo')
    .description('make a throwaway key pair and sample image, then bundle, verify and unbundle it')
    .option('--dir <dir>', 'work directory (default: a new one under the system temp directory)')
    .option('--size <MiB>', 'sample image size in MiB', intOption('--size', 1, 1024), 24)
    .option('--service', 'through the service: enqueue to two regions of a local service (bundlefarm serve --local; one is started if none runs), list the S3 objects, unbundle them')
    .option('--data-dir <dir>', 'with --service: the local service\'s data dir (default: serve --local\'s)')
    .action(async (opts: DemoFlags) => {
      if (opts.service) {
        const { runServiceDemo } = await import('./demo-service.js');
        await runServiceDemo(io, {
          ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {}),
          ...(opts.dir !== undefined ? { dir: opts.dir } : {}),
          size: opts.size * 1024 * 1024,
          quiet: flags().quiet,
        });
        return;
      }
      const dir = resolve(opts.dir ?? (await mkdtemp(join(tmpdir(), 'bundlefarm-demo-'))));
      await mkdir(dir, { recursive: true });
      const identity = generateSelfSignedIdentity({ commonName: 'bundlefarm demo (throwaway)' });
      const keyPath = join(dir, 'user-key.pem');
      const certPath = join(dir, 'user-cert.pem');
      await writeFile(keyPath, identity.privateKeyPem, { mode: 0o600 });
      await writeFile(certPath, identity.certificatePem);
      const imagePath = join(dir, 'sample.img');
      await writeSampleImage(imagePath, opts.size * 1024 * 1024);

      const bundleDir = join(dir, 'bundle');
      const created = await createBundle(
        {
          image: imagePath,
          pool: sharedThreadPool(),
          spec: { accountId: '123456789012', architecture: 'x86_64', blockDeviceMapping: [{ virtual: 'ami', device: 'sda1' }, { virtual: 'root', device: '/dev/sda1' }] },
          user: identity,
          ec2Certificate: ec2CertificateForRegion('us-east-1'),
        },
        new DirectorySink(bundleDir),
      );
      const manifestPath = join(bundleDir, created.manifestFile);
      const parsed = parseManifest(await readFile(manifestPath));
      await verifyBundle({ manifest: parsed, source: new DirectorySource(bundleDir), certificate: identity.certificate });
      const outDir = join(dir, 'unbundled');
      const result = await unbundle({
        manifest: parsed,
        privateKey: identity.privateKey,
        certificate: identity.certificate,
        source: new DirectorySource(bundleDir),
        destination: outDir,
        overwrite: true,
      });
      const [a, b] = await Promise.all([sha256(imagePath), sha256(result.path)]);
      if (a !== b) throw new Error(`demo round trip differs: ${a} vs ${b}`);
      const { facts, stats } = created.result;
      out(io, `bundlefarm demo — everything is in ${dir}`);
      out(io, `  key pair   ${keyPath}, ${certPath} (throwaway, self-signed)`);
      out(io, `  image      ${imagePath} (${facts.size} bytes)`);
      out(io, `  bundle     ${manifestPath} + ${facts.parts.length} ${facts.parts.length === 1 ? 'part' : 'parts'}, ${facts.bundledSize} bytes, in ${stats.seconds.toFixed(2)} s`);
      out(io, `  verified   signature and the SHA-1 of every part`);
      out(io, `  unbundled  ${result.path}: identical to the image (SHA-256 ${a.slice(0, 16)}…)`);
      out(io);
      out(io, 'Try it yourself (the bundlefarm command: `npm install -g ./apps/cli` in the checkout; or `npx bundlefarm` inside it):');
      out(io, `  bundlefarm verify -m ${manifestPath} -c ${certPath}`);
      out(io, `  bundlefarm unbundle -m ${manifestPath} -k ${keyPath} -d ${join(dir, 'again')}`);
      out(io, `  bundlefarm bundle -i ${imagePath} -c ${certPath} -k ${keyPath} -u 1234-5678-9012 -r x86_64 -d ${join(dir, 'again-bundle')}`);
    });
}

/** A sample image that looks like a small disk: text, binary noise, and long runs of zeros. */
export async function writeSampleImage(path: string, size: number): Promise<void> {
  const handle = await open(path, 'w');
  try {
    const chunk = 1024 * 1024;
    let line = 0;
    for (let at = 0; at < size; at += chunk) {
      const n = Math.min(chunk, size - at);
      const kind = Math.floor(at / chunk) % 4;
      let buf: Buffer;
      if (kind === 1) buf = randomBytes(n);
      else if (kind === 3) buf = Buffer.alloc(n);
      else {
        const parts: string[] = [];
        let len = 0;
        while (len < n) {
          const s = `/usr/share/doc/package-${line % 997}/changelog.${line % 13}.gz ${line * 7919} bytes\n`;
          parts.push(s);
          len += s.length;
          line++;
        }
        buf = Buffer.from(parts.join('')).subarray(0, n);
      }
      await handle.write(buf, 0, n, at);
    }
  } finally {
    await handle.close();
  }
}

export async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}
