/**
 * Uploads a bundle straight into S3, to one region or to many at once: the engine produces each
 * 10 MiB part once, and the sink PUTs it to every region's bucket (key = prefix + part name), as
 * ec2-upload-bundle does — `x-amz-acl` (aws-exec-read by default) and `Content-MD5` on every PUT —
 * retried with backoff on 5xx, throttling, timeouts and dropped connections.
 *
 * Part names are fixed up front, because S3 cannot rename: `NAME.part.K` with K padded to the digit
 * count of `maxPartCount` (the bound `begin()` gets from the image size), where ec2-bundle-image pads
 * to the digit count of the final part count. The two differ only for bundles that compress into
 * fewer parts than the bound has digits for (e.g. 9 parts from a 15-part bound: `.part.00` … `.part.08`
 * instead of `.part.0` … `.part.8`). That is harmless: EC2, ec2-download-bundle, ec2-unbundle and
 * euca2ools all find parts through the manifest's <filename> elements, never by guessing names.
 *
 * Regions fail alone: when a region still fails after its retries (or fails permanently, e.g. a
 * missing bucket), the sink marks it failed, keeps its error, deletes what it uploaded there and
 * carries on with the others. `putPart` rejects only when every region has failed. A region's
 * manifest goes up only after `commitParts`, and only while the region is healthy, so no manifest
 * ever names a missing part. `abort()` deletes everything the sink wrote, in every region.
 *
 * Stopping — a failed region, `abort()`, the caller's `signal` — sends nothing more but lets requests
 * already sent settle (at most `settleMs`) before deleting what they may have stored; `abandonSignal`
 * (a lost job lock) cuts them off at once and deletes nothing. Why, and each region's state:
 * region-upload.ts.
 *
 * Nothing of a bundle is hidden before commit (S3 has no rename): parts are visible as they land, but
 * without a manifest they are not a bundle; EC2 registers only from a manifest.
 *
 * A bundle already published at a target (its `NAME.manifest.xml` is there) is never overwritten by
 * surprise: just before the first object goes to a region, the sink looks (HeadObject). Someone else's
 * manifest fails that region with BundleExistsError, nothing written there — unless `replace` says to
 * replace it: then, and for a manifest the sink's own `owner` wrote (an earlier attempt of the same
 * job), the manifest is withdrawn (deleted) right then, before the first part's PUT, and
 * `onWithdrawn` is told. Every object the sink writes carries `owner` as user metadata
 * (`x-amz-meta-bundlefarm-job`), so that later cleanups can tell its objects from anyone else's.
 */
import { createHash } from 'node:crypto';
import { HeadObjectCommand, PutObjectCommand, type PutObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { type BundlefarmError, CancelledError, InvalidOptionError, UnsafePathError } from '@bundlefarm/errors';
import type { PartData, PartSink, SinkBeginInfo } from '@bundlefarm/engine';
import { isPlainFileName, manifestName, partName } from '@bundlefarm/format';
import { checkBundleAcl, sdkAcl, type S3BundleAcl } from './bundle-acl.js';
import { eachLimited } from './each-limited.js';
import { checkRetryOptions, withRetry, type RetryEvent, type RetryOptions, type RetryPolicy } from './retry.js';
import { ownerMetadata, withdrawPublished, type WithdrawnBundle } from './published-bundle.js';
import { abortError, RegionUpload } from './region-upload.js';
import { toS3Error } from './s3-error-mapping.js';
import { S3AllRegionsFailedError } from './s3-errors.js';
import { checkBucketName, checkKeyPrefix, formatS3Url } from './s3-url.js';

export interface S3Target {
  /** Region name: identifies the target in `failedRegions`, `putManifestFor` … (unique per sink). */
  region: string;
  /** A client for that region (see createS3Client). */
  client: S3Client;
  bucket: string;
  /** Key prefix: '' or `dir/…` (normalized to end with `/`). */
  prefix: string;
}

export interface S3PartSinkOptions {
  /** One target per region, at least one. */
  targets: readonly S3Target[];
  /** Canned ACL of every object (default aws-exec-read: EC2 may read it, nobody else). */
  acl?: S3BundleAcl;
  /** Parts pending at once, 1–64 (default 4). Each holds a 10 MiB buffer until all regions have it. */
  maxInFlight?: number;
  /** Retries of each request on top of the SDK's own (default: 5 tries, 250 ms base, 20 s cap). */
  retry?: RetryOptions;
  /**
   * HEAD every part in every region at `commitParts` and compare sizes (default false: a 200 answer to
   * a PUT carrying Content-MD5 already means S3 stored exactly those bytes).
   */
  verifyWithHead?: boolean;
  /**
   * Stops the sink: callers are released at once and nothing more is sent; requests already sent run to
   * their end (at most `settleMs`), so that `abort()`, which cleans up, deletes what they stored.
   */
  signal?: AbortSignal;
  /**
   * The keys are no longer ours (another writer took them over): stops the sink as `signal` does, cuts
   * requests in flight off at once, and makes `abort()` leave every object in place.
   */
  abandonSignal?: AbortSignal;
  /** Called before each retry (for logs and metrics). */
  onRetry?: (event: RetryEvent & { region: string }) => void;
  /** Called once when a region is given up (its objects are being deleted). */
  onRegionFailed?: (region: string, error: BundlefarmError) => void;
  /** How long a stopped region's requests in flight may still run before they are cut off, ms (default 10 000). */
  settleMs?: number;
  /** Who writes (e.g. a job, `[A-Za-z0-9._@-]`): stored with every object, and what makes a published manifest this writer's own. */
  owner?: string;
  /** Withdraw a manifest someone else published at a target, instead of failing that region (default false). */
  replace?: boolean;
  /** Called (and awaited) once a published manifest was withdrawn from a region, before any part goes there. */
  onWithdrawn?: (region: string, withdrawn: WithdrawnBundle) => void | Promise<void>;
}

export const S3_PART_SINK_DEFAULTS = { maxInFlight: 4, verifyWithHead: false, settleMs: 10_000 } as const;

/** HEADs run this many at a time per region (verifyWithHead). */
const HEAD_CONCURRENCY = 8;
const MAX_TARGETS = 64;


export class S3PartSink implements PartSink {
  readonly maxInFlight: number;
  private readonly acl: S3BundleAcl;
  private readonly retry: RetryPolicy;
  private readonly verifyWithHead: boolean;
  private readonly settleMs: number;
  /** `Metadata` of every PutObject: the owner, when there is one. */
  private readonly metadata: { Metadata?: Record<string, string> };
  private readonly regions: RegionUpload[];
  /** Aborted by `abort()` and by the caller's signal. */
  private readonly internal = new AbortController();
  private readonly detachSignal: () => void;
  private name = '';
  private maxPartCount = 0;
  private begun = false;
  private committed = false;
  private aborting: Promise<void> | undefined;

  constructor(private readonly options: S3PartSinkOptions) {
    // (Array.isArray on the typed array would narrow it to any[] and switch type checks off below)
    const targets: readonly S3Target[] = options.targets;
    if (!Array.isArray(options.targets) || targets.length === 0) throw new InvalidOptionError('S3 targets', 'at least one target is needed');
    if (targets.length > MAX_TARGETS) throw new InvalidOptionError('S3 targets', `at most ${MAX_TARGETS} targets`);
    const seen = new Set<string>();
    this.regions = targets.map((t) => {
      if (typeof t.region !== 'string' || t.region === '') throw new InvalidOptionError('S3 target region', 'is empty');
      if (seen.has(t.region)) throw new InvalidOptionError('S3 targets', `region ${t.region} appears twice`);
      seen.add(t.region);
      if (typeof t.client?.send !== 'function') throw new InvalidOptionError('S3 target client', `region ${t.region} has no S3 client`);
      const target = { ...t, bucket: checkBucketName(t.bucket), prefix: checkKeyPrefix(t.prefix) };
      return new RegionUpload(target, this.internal.signal, options.abandonSignal);
    });
    this.acl = checkBundleAcl(options.acl);
    this.retry = checkRetryOptions(options.retry);
    this.verifyWithHead = options.verifyWithHead ?? S3_PART_SINK_DEFAULTS.verifyWithHead;
    this.settleMs = options.settleMs ?? S3_PART_SINK_DEFAULTS.settleMs;
    if (options.owner !== undefined && !/^[A-Za-z0-9._@-]{1,240}$/.test(options.owner)) {
      throw new InvalidOptionError('owner', `${JSON.stringify(options.owner)} is not 1-240 letters, digits, ".", "_", "@" or "-"`);
    }
    this.metadata = options.owner !== undefined ? { Metadata: ownerMetadata(options.owner) } : {};
    if (!Number.isInteger(this.settleMs) || this.settleMs < 0 || this.settleMs > 600_000) {
      throw new InvalidOptionError('S3 settleMs', `${String(this.settleMs)} is not a whole number from 0 to 600000`);
    }
    const maxInFlight = options.maxInFlight ?? S3_PART_SINK_DEFAULTS.maxInFlight;
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1 || maxInFlight > 64) {
      throw new InvalidOptionError('S3 maxInFlight', `${String(maxInFlight)} is not a whole number from 1 to 64`);
    }
    this.maxInFlight = maxInFlight;
    const signals = [options.signal, options.abandonSignal].filter((x): x is AbortSignal => x !== undefined);
    const onAbort = (): void => this.internal.abort();
    if (signals.some((x) => x.aborted)) this.internal.abort();
    for (const x of signals) x.addEventListener('abort', onAbort, { once: true });
    this.detachSignal = () => signals.forEach((x) => x.removeEventListener('abort', onAbort));
  }

  /** Regions still receiving the bundle, in target order. */
  healthyRegions(): string[] {
    return this.regions.filter((r) => !r.failure).map((r) => r.target.region);
  }

  /** Regions given up, with the error that made them fail. */
  failedRegions(): Map<string, BundlefarmError> {
    return new Map(this.regions.flatMap((r) => (r.failure ? [[r.target.region, r.failure] as const] : [])));
  }

  /** Keys a PUT was ever sent for in `region` (deleted since or not). */
  writtenKeys(region: string): string[] {
    return [...(this.regions.find((r) => r.target.region === region)?.touched ?? [])];
  }

  /** Objects written that could not be deleted (after abort or a region's failure), as s3:// URLs. */
  leftoverObjects(): string[] {
    return this.regions
      .filter((r) => this.aborting !== undefined || r.failure !== undefined)
      .flatMap((r) => [...r.written].map((key) => formatS3Url(r.target.bucket, key)));
  }

  async begin(info: SinkBeginInfo): Promise<void> {
    this.assertLive();
    if (this.begun) throw new Error('S3PartSink.begin called twice');
    if (!isPlainFileName(info.name)) throw new InvalidOptionError('bundle name', `${JSON.stringify(info.name)} is not a plain file name`);
    if (!Number.isInteger(info.maxPartCount) || info.maxPartCount < 1) {
      throw new InvalidOptionError('maxPartCount', `${String(info.maxPartCount)} is not a positive whole number`);
    }
    this.name = info.name;
    this.maxPartCount = info.maxPartCount;
    this.begun = true;
  }

  async putPart(part: PartData): Promise<void> {
    this.assertLive();
    if (!this.begun) throw new Error('S3PartSink.putPart before begin');
    if (this.committed) throw new Error('S3PartSink.putPart after commitParts');
    if (!Number.isInteger(part.index) || part.index < 0 || part.index >= this.maxPartCount) {
      throw new Error(`part index ${part.index} is outside 0..${this.maxPartCount - 1} (maxPartCount given to begin)`);
    }
    const fileName = partName(this.name, part.index, this.maxPartCount);
    const md5 = createHash('md5').update(part.data).digest('base64');
    await Promise.all(
      this.regions
        .filter((r) => !r.failure)
        .map((r) =>
          this.prepare(r)
            .then(() => {
              // the look may have taken a while: nothing is sent once the region or the sink stopped
              if (r.signal.aborted) throw abortError();
              return this.upload(r, r.target.prefix + fileName, part.data, md5);
            })
            .then(
              () => void r.parts.set(part.index, part.data.length),
              (err: unknown) => this.failRegion(r, err),
            ),
        ),
    );
    this.assertLive();
    this.assertSomeRegionHealthy();
  }

  async commitParts(count: number): Promise<string[]> {
    this.assertLive();
    if (!this.begun) throw new Error('S3PartSink.commitParts before begin');
    if (!Number.isInteger(count) || count < 1 || count > this.maxPartCount) {
      throw new Error(`part count ${count} is outside 1..${this.maxPartCount} (maxPartCount given to begin)`);
    }
    await this.settleFailures();
    for (const r of this.regions.filter((x) => !x.failure)) {
      for (let i = 0; i < count; i++) if (!r.parts.has(i)) throw new Error(`part ${i} was never stored in ${r.target.region}`);
      if (r.parts.size !== count) throw new Error(`${r.target.region} holds ${r.parts.size} parts, not ${count}`);
    }
    if (this.verifyWithHead) {
      await Promise.all(
        this.regions.filter((r) => !r.failure).map((r) => this.verifyRegion(r, count).catch((err: unknown) => this.failRegion(r, err, 'HeadObject'))),
      );
      await this.settleFailures();
    }
    this.assertLive();
    this.assertSomeRegionHealthy();
    this.committed = true;
    return Array.from({ length: count }, (_, i) => partName(this.name, i, this.maxPartCount));
  }

  /** The manifest of a single-target sink. With several targets, use `putManifestFor`. */
  async putManifest(fileName: string, xml: string): Promise<void> {
    if (this.regions.length !== 1) {
      throw new InvalidOptionError('putManifest', `this sink uploads to ${this.regions.length} regions; give each its manifest with putManifestFor(region, …)`);
    }
    await this.putManifestFor(this.regions[0]!.target.region, fileName, xml);
  }

  /**
   * Uploads `region`'s manifest (manifests differ per region: kernel and ramdisk ids, EC2 certificate).
   * Only after `commitParts` and only for a healthy region; a region whose manifest fails is given up
   * like any other failing region, and this call rejects with its error.
   */
  async putManifestFor(region: string, fileName: string, xml: string): Promise<void> {
    this.assertLive();
    if (!this.committed) throw new Error('S3PartSink.putManifest before commitParts');
    const r = this.regions.find((x) => x.target.region === region);
    if (!r) throw new InvalidOptionError('region', `${region} is not a target of this sink (targets: ${this.regions.map((x) => x.target.region).join(', ')})`);
    if (r.failure) throw r.failure;
    if (!isPlainFileName(fileName)) throw new UnsafePathError(fileName, formatS3Url(r.target.bucket, r.target.prefix));
    const body = Buffer.from(xml, 'utf8');
    try {
      await this.upload(r, r.target.prefix + fileName, body, createHash('md5').update(body).digest('base64'));
    } catch (err) {
      this.assertLive();
      this.failRegion(r, err);
      await r.cleanup;
      throw r.failure!;
    }
  }

  /**
   * Cancels what is in flight and deletes every object this sink wrote, in every region (parts and
   * manifests), each delete retried — unless the sink was abandoned (`abandonSignal`). Idempotent; never throws (what could not be deleted is listed by
   * `leftoverObjects()`). Every later call rejects with CancelledError.
   */
  abort(): Promise<void> {
    this.aborting ??= (async () => {
      this.internal.abort();
      this.detachSignal();
      // a withdrawal under way (its DELETE is not cancelled) ends, and is reported, before abort() resolves
      await Promise.allSettled(this.regions.flatMap((r) => [...r.inflight, r.cleanup ?? Promise.resolve(), r.prepared ?? Promise.resolve()]));
      await Promise.all(this.regions.map((r) => r.settle(this.settleMs)));
      await Promise.all(this.regions.map((r) => r.deleteWritten(this.retry)));
    })().catch(() => {});
    return this.aborting;
  }

  private assertLive(): void {
    if (this.internal.signal.aborted) throw new CancelledError(this.aborting ? 'S3 upload (the sink was aborted)' : 'S3 upload');
  }

  private assertSomeRegionHealthy(): void {
    if (this.regions.some((r) => !r.failure)) return;
    if (this.regions.length === 1) throw this.regions[0]!.failure!;
    throw new S3AllRegionsFailedError(this.failedRegions());
  }

  /**
   * Before the region's first write (once; concurrent parts wait for the same check): a manifest of
   * this bundle already there is refused, or withdrawn (see the class comment).
   */
  private prepare(r: RegionUpload): Promise<void> {
    r.prepared ??= (async () => {
      const withdrawn = await withdrawPublished(r.target.client, r.target, manifestName(this.name), {
        ...(this.options.owner !== undefined ? { owner: this.options.owner } : {}),
        replace: this.options.replace ?? false,
        retry: this.retry,
        signal: r.signal,
      });
      if (withdrawn) await this.options.onWithdrawn?.(r.target.region, withdrawn);
    })();
    return r.prepared;
  }

  /** One PUT, retried; rejects with the raw error (mapped by the caller's failRegion). */
  private upload(r: RegionUpload, key: string, body: Buffer, md5: string): Promise<void> {
    r.written.add(key);
    r.touched.add(key);
    const { bucket, region, client } = r.target;
    const op = withRetry(
      {
        policy: this.retry,
        operation: 'PutObject',
        bucket,
        key,
        signal: r.signal,
        ...(this.options.onRetry ? { onRetry: (e: RetryEvent) => this.options.onRetry?.({ ...e, region }) } : {}),
      },
      async () => {
        const out = await r.send(
          client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length, ContentMD5: md5, ACL: sdkAcl(this.acl), ...this.metadata }), {
            abortSignal: r.requestSignal,
          }),
        );
        checkEtag(out, md5);
      },
    );
    r.inflight.add(op);
    const untrack = (): void => void r.inflight.delete(op);
    op.then(untrack, untrack);
    return op;
  }


  /** Gives a region up (first error wins) and starts deleting what was written there. */
  private failRegion(r: RegionUpload, err: unknown, operation = 'PutObject'): void {
    // cancellation of the whole sink is not a region failure: abort() cleans up
    if (this.internal.signal.aborted || r.failure) return;
    r.failure = toS3Error(err, { bucket: r.target.bucket, operation, region: r.target.region, acl: this.acl });
    r.controller.abort();
    this.options.onRegionFailed?.(r.target.region, r.failure);
    r.cleanup = (async () => {
      await Promise.allSettled([...r.inflight]);
      await r.settle(this.settleMs);
      await r.deleteWritten(this.retry);
    })();
  }

  private async settleFailures(): Promise<void> {
    await Promise.all(this.regions.flatMap((r) => (r.cleanup ? [r.cleanup] : [])));
  }

  private async verifyRegion(r: RegionUpload, count: number): Promise<void> {
    const { bucket, client, prefix } = r.target;
    const indexes = Array.from({ length: count }, (_, i) => i);
    await eachLimited(indexes, HEAD_CONCURRENCY, async (i) => {
      const key = prefix + partName(this.name, i, this.maxPartCount);
      const head = await withRetry({ policy: this.retry, operation: 'HeadObject', bucket, key, signal: r.signal }, () =>
        client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: r.signal }),
      );
      if (head.ContentLength !== r.parts.get(i)) {
        throw Object.assign(new Error(`s3://${bucket}/${key} holds ${String(head.ContentLength)} bytes, ${String(r.parts.get(i))} were uploaded`), {
          name: 'SizeMismatch',
        });
      }
    });
  }

}

/**
 * S3 answers a PUT with the object's MD5 as ETag, except for objects encrypted with KMS or customer
 * keys. A different MD5 means the stored bytes are not ours: retried like S3's own BadDigest.
 */
function checkEtag(out: PutObjectCommandOutput, md5: string): void {
  if (out.ServerSideEncryption === 'aws:kms' || out.ServerSideEncryption === 'aws:kms:dsse' || out.SSECustomerAlgorithm) return;
  const etag = out.ETag?.replace(/"/g, '').toLowerCase();
  if (etag === undefined || !/^[0-9a-f]{32}$/.test(etag)) return;
  if (etag !== Buffer.from(md5, 'base64').toString('hex')) {
    throw Object.assign(new Error('the ETag S3 returned is not the MD5 of the uploaded part'), { name: 'BadDigest' });
  }
}


