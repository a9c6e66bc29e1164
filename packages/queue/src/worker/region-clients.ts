import { createEc2Client } from '@bundlefarm/ec2';
import { createS3Client } from '@bundlefarm/s3';
import { s3SettingsFor, type WorkerS3Config } from './worker-config.js';
import { ec2SettingsFor, type WorkerEc2Config } from './worker-ec2-config.js';

export type S3ClientLike = ReturnType<typeof createS3Client>;
export type Ec2ClientLike = ReturnType<typeof createEc2Client>;

/**
 * One S3 client per region for the whole worker process (their connection pools are reused by every
 * job), built on first use from the configuration: the defaults, or the region's override. Likewise
 * one EC2 client per region, for registering AMIs (from the `ec2` settings; AWS's endpoints when none).
 */
export class RegionClients {
  private readonly clients = new Map<string, S3ClientLike>();
  private readonly ec2Clients = new Map<string, Ec2ClientLike>();

  /** `onCreate`: called with each client as it is made (e.g. to add a metrics middleware). */
  constructor(
    private readonly config: WorkerS3Config,
    private readonly onCreate?: (client: S3ClientLike, region: string) => void,
    private readonly ec2Config: WorkerEc2Config = { defaults: {}, regions: {} },
  ) {}

  /** The EC2 client of `region`. */
  ec2ForRegion(region: string): Ec2ClientLike {
    let client = this.ec2Clients.get(region);
    if (!client) {
      client = createEc2Client(ec2SettingsFor(this.ec2Config, region));
      this.ec2Clients.set(region, client);
    }
    return client;
  }

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
    for (const c of this.ec2Clients.values()) c.destroy();
    this.ec2Clients.clear();
  }
}
