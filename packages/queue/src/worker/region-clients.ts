import { createS3Client } from '@bundlefarm/s3';
import { s3SettingsFor, type WorkerS3Config } from './worker-config.js';

export type S3ClientLike = ReturnType<typeof createS3Client>;

/**
 * One S3 client per region for the whole worker process (their connection pools are reused by every
 * job), built on first use from the configuration: the defaults, or the region's override.
 */
export class RegionClients {
  private readonly clients = new Map<string, S3ClientLike>();

  /** `onCreate`: called with each client as it is made (e.g. to add a metrics middleware). */
  constructor(
    private readonly config: WorkerS3Config,
    private readonly onCreate?: (client: S3ClientLike, region: string) => void,
  ) {}

  /** The client for buckets of `region`. */
  forRegion(region: string): S3ClientLike {
    let client = this.clients.get(region);
    if (!client) {
      client = createS3Client(s3SettingsFor(this.config, region));
      this.onCreate?.(client, region);
      this.clients.set(region, client);
    }
    return client;
  }

  /** The client that reads `s3://` images (configured `imageRegion`). */
  forImages(): S3ClientLike {
    return this.forRegion(this.config.imageRegion);
  }

  /** Closes every client's sockets. */
  destroy(): void {
    for (const c of this.clients.values()) c.destroy();
    this.clients.clear();
  }
}
