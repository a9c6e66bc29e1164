/*
 * The enqueue-time look at a job's targets: a bundle of the job's name already published at a target
 * (`PREFIX/NAME.manifest.xml` exists) refuses the job with BundleExistsError — HTTP 409 at the API —
 * unless the spec says `replace: true`. A new job never owns anything yet, so any manifest there counts.
 *
 * What the producer can tell, and what it cannot (the worker checks again in every case, before it
 * writes anything, and fails such a job with BF_BUNDLE_EXISTS):
 * - it looks only when it has S3 settings (the API: BUNDLEFARM_S3_*), with one client per target region
 *   (the same endpoint for every region when one is configured, as for an S3-compatible store);
 * - a HeadObject answered 200 is a published bundle: refused; 404 is none: let through;
 * - anything else — no credentials for that bucket (403), a bucket in another region than the settings
 *   say, S3 down or slower than `timeoutMs` — cannot tell: let through, the worker decides;
 * - a job queued or running for the same target that has not published yet is not seen: whichever
 *   publishes second is refused by the worker (or replaces the first, with `replace: true`).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { isBundlefarmError } from '@bundlefarm/errors';
import { manifestName } from '@bundlefarm/format';
import { createS3Client, publishedManifest, refuseForeign, type S3Settings } from '@bundlefarm/s3';
import type { JobSpec } from '../job-spec.js';

export type TargetCheck = { checked: true } | { checked: false; reason: string };

export class PublishedCheck {
  private readonly clients = new Map<string, S3Client>();

  constructor(
    private readonly settings: S3Settings | undefined,
    private readonly timeoutMs = 5_000,
  ) {}

  /**
   * Rejects with BundleExistsError (naming every such manifest) when a bundle named `name` is published
   * at a target of `spec` and the spec does not say `replace`. Resolves with whether every target could
   * be looked at.
   */
  async check(spec: JobSpec, name: string): Promise<TargetCheck> {
    if (spec.replace) return { checked: false, reason: 'the job replaces what is there' };
    if (!this.settings) return { checked: false, reason: 'no S3 client is configured here' };
    const signal = AbortSignal.timeout(this.timeoutMs);
    const unknown: string[] = [];
    const found = await Promise.all(
      spec.regions.map(async (t) => {
        try {
          return { bucket: t.bucket, manifest: await publishedManifest(this.client(t.region), t, manifestName(name), undefined, { retry: { attempts: 1 }, signal }) };
        } catch (err) {
          unknown.push(`${t.region}: ${isBundlefarmError(err) ? `${err.code}: ${err.message}` : String(err)}`);
          return undefined;
        }
      }),
    );
    refuseForeign(found.filter((f) => f !== undefined));
    return unknown.length === 0 ? { checked: true } : { checked: false, reason: unknown.join('; ') };
  }

  close(): void {
    for (const c of this.clients.values()) c.destroy();
    this.clients.clear();
  }

  /** The client for buckets of `region`: the settings' endpoint for every region, or AWS's own for that region. */
  private client(region: string): S3Client {
    const key = this.settings!.endpoint !== undefined ? '' : region;
    let client = this.clients.get(key);
    if (!client) {
      client = createS3Client({
        connectionTimeoutMs: 2_000,
        requestTimeoutMs: this.timeoutMs,
        maxAttempts: 2,
        ...this.settings!,
        ...(this.settings!.endpoint === undefined ? { region } : {}),
      });
      this.clients.set(key, client);
    }
    return client;
  }
}
