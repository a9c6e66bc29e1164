import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { verifyBundle } from '@bundlefarm/engine';
import { isBundlefarmError } from '@bundlefarm/errors';
import { parseManifest, type CertificateMaterial, type ParsedManifest } from '@bundlefarm/format';
import { createS3Client, S3PartSource } from '@bundlefarm/s3';
import { bundlefarm } from '../helpers/cli.js';
import { s3rverClientSettings } from '../helpers/s3-server.js';
import { tempDir } from '../helpers/temp-dir.js';
import { getObject, listKeys, sha256File } from '../service/service-environment.js';

/**
 * Checks of what the service published in S3, for the fault tests: a bundle is *consistent* when its
 * manifest's signature verifies and every part it names exists and matches the manifest's SHA-1 — the
 * parts of the attempt that wrote the manifest, not of another (each attempt encrypts under a fresh key,
 * so another attempt's part never matches). EC2 may register a bundle the moment its manifest is
 * visible, so that must hold at every moment, not only at the end.
 */

/** The directory part of a key (`os/a.manifest.xml` → `os/`). */
function keyDir(key: string): string {
  return key.slice(0, key.lastIndexOf('/') + 1);
}

/** Verifies the bundle `manifestKey` describes (signature, every part's SHA-1 and the total size); resolves with the parsed manifest. */
export async function verifyPublished(client: S3Client, bucket: string, manifestKey: string, certificate: CertificateMaterial, xml?: Buffer): Promise<ParsedManifest> {
  const manifest = parseManifest(xml ?? (await getObject(client, bucket, manifestKey)));
  await verifyBundle({ manifest, source: new S3PartSource({ client, bucket, prefix: keyDir(manifestKey), retry: { attempts: 1 } }), certificate });
  return manifest;
}

/**
 * Under `prefix` there is exactly one bundle, `NAME.manifest.xml` and the parts it names — no part of
 * another attempt, no preflight probe, nothing else — and it verifies.
 */
export async function assertSoleBundle(client: S3Client, bucket: string, prefix: string, name: string, certificate: CertificateMaterial): Promise<ParsedManifest> {
  const manifestKey = `${prefix}${name}.manifest.xml`;
  const manifest = await verifyPublished(client, bucket, manifestKey, certificate);
  const expected = [manifestKey, ...manifest.manifest.image.parts.map((p) => prefix + p.filename)].sort();
  assert.deepEqual(await listKeys(client, bucket, prefix), expected, `s3://${bucket}/${prefix} holds the bundle and nothing else`);
  return manifest;
}

/**
 * Downloads the bundle into a fresh directory and runs the real CLI on it, as a user would:
 * `bundlefarm verify -c` then `bundlefarm unbundle -k -c`. Resolves with the SHA-256 of the image it
 * gave back.
 */
export async function unbundleWithCli(
  client: S3Client,
  bucket: string,
  manifestKey: string,
  user: { key: string; cert: string },
): Promise<string> {
  const dir = await tempDir('bundlefarm-fault-unbundle-');
  const manifestFile = join(dir, manifestKey.slice(keyDir(manifestKey).length));
  const xml = await getObject(client, bucket, manifestKey);
  await writeFile(manifestFile, xml);
  for (const part of parseManifest(xml).manifest.image.parts) {
    await writeFile(join(dir, part.filename), await getObject(client, bucket, keyDir(manifestKey) + part.filename));
  }
  const verified = await bundlefarm(['verify', '-m', manifestFile, '-c', user.cert]);
  assert.equal(verified.code, 0, `bundlefarm verify of s3://${bucket}/${manifestKey}: ${verified.stderr}`);
  const out = join(dir, 'image');
  await mkdir(out);
  const unbundled = await bundlefarm(['unbundle', '-m', manifestFile, '-k', user.key, '-c', user.cert, '-d', out]);
  assert.equal(unbundled.code, 0, `bundlefarm unbundle of s3://${bucket}/${manifestKey}: ${unbundled.stderr}`);
  const name = parseManifest(xml).manifest.image.name;
  return sha256File(join(out, name));
}

export interface WatchedPlace {
  bucket: string;
  /** Key prefix the job publishes under ('' or `dir/`). */
  prefix: string;
  /** The bucket's region (default us-east-1): read at that region's endpoint. */
  region?: string;
}

export interface WatchReport {
  /** Passes over every place. */
  rounds: number;
  /** Manifests seen that verified. */
  verified: number;
  /** Checks that could not conclude (a read failed or timed out, e.g. of an object being rewritten). */
  inconclusive: number;
  /** Manifests that stayed visible, unchanged, while a part they name was missing or not theirs. */
  violations: string[];
}

export interface ManifestWatch {
  /** Stops after the pass under way; resolves with what was seen (rejects if watching itself failed). */
  stop(): Promise<WatchReport>;
}

/**
 * Watches places in the S3 server (each at its region's endpoint, `endpointFor`) while jobs run: over and over, every manifest visible
 * there is read and its bundle verified (parts in order: the first are the first a retry overwrites).
 * A failed check is a violation only if the very same manifest is still there after it — a manifest
 * withdrawn or replaced meanwhile was not visible while its parts changed. A check whose reads fail
 * (the store behind the S3 front, s3rver, rewrites objects in place, so reading one while it is rewritten can break off) concludes
 * nothing; its own client gives up on a read after a few seconds, so the watch keeps looking.
 */
export function watchManifests(endpointFor: (region: string) => string, places: readonly WatchedPlace[], certificate: CertificateMaterial): ManifestWatch {
  const clients = new Map<string, S3Client>();
  for (const { region = 'us-east-1' } of places) {
    if (!clients.has(region)) {
      clients.set(region, createS3Client({ ...s3rverClientSettings(endpointFor(region), region), maxAttempts: 1, requestTimeoutMs: 3_000, socketTimeoutMs: 3_000 }));
    }
  }
  const report: WatchReport = { rounds: 0, verified: 0, inconclusive: 0, violations: [] };
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      for (const { bucket, prefix, region = 'us-east-1' } of places) {
        const client = clients.get(region)!;
        const read = (key: string): Promise<Buffer | undefined> => getObject(client, bucket, key).catch(() => undefined);
        // a listing that fails (the store slow under load: the client gives up after 3 s) concludes nothing either
        const listed = await listKeys(client, bucket, prefix).catch(() => undefined);
        if (listed === undefined) {
          report.inconclusive++;
          continue;
        }
        const manifests = listed.filter((k) => k.endsWith('.manifest.xml'));
        for (const key of manifests) {
          const before = await read(key);
          if (before === undefined) continue;
          try {
            await verifyPublished(client, bucket, key, certificate, before);
            report.verified++;
          } catch (err) {
            if (isBundlefarmError(err) && err.transient) {
              report.inconclusive++;
              continue;
            }
            const after = await read(key);
            const why = isBundlefarmError(err) ? `${err.code}: ${err.message}` : String(err);
            if (after?.equals(before)) report.violations.push(`s3://${bucket}/${key} was visible while ${why}`);
          }
        }
      }
      report.rounds++;
      await new Promise((r) => setTimeout(r, 20));
    }
    return report;
  })().finally(() => {
    for (const c of clients.values()) c.destroy();
  });
  // rejections surface through stop(); until then they must not count as unhandled
  loop.catch(() => {});
  return {
    stop() {
      stopping = true;
      return loop;
    },
  };
}
