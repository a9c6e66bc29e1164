/*
 * What the S3 commands (upload, download, delete-bundle, migrate-bundle) share: ec2-ami-tools' S3 flags,
 * the clients they build, and finding a bucket's region.
 *
 * Credentials come from the SDK's default chain (environment, profile, SSO, instance or task role).
 * ec2-ami-tools' `-a/-s` are accepted so that scripts port by changing the command name, with a warning:
 * a secret on the command line is visible in the process list and the shell's history.
 */
import type { Command } from 'commander';
import type { S3Client } from '@aws-sdk/client-s3';
import { InvalidOptionError } from '@bundlefarm/errors';
import { bucketRegion, createS3Client, type RetryOptions, type S3Settings } from '@bundlefarm/s3';
import type { CliIo } from './cli-io.js';
import { intOption } from './option-parsers.js';

export interface S3CliFlags {
  region?: string;
  endpoint?: string;
  pathStyle?: boolean;
  accessKey?: string;
  secretKey?: string;
  delegationToken?: string;
  retry?: number | true;
  concurrency?: number;
  json?: boolean;
}

/** Adds --region, --endpoint, --path-style, -a/-s/-t, --retry, --concurrency and --json. */
export function addS3Options(cmd: Command, regionHelp: string): Command {
  return cmd
    .option('--region <region>', regionHelp)
    .option('--endpoint <url>', 'S3 endpoint of an S3-compatible store (MinIO, Ceph …): http(s)://host[:port]')
    .option('--path-style', 'path-style addressing (host/bucket/key), which most S3-compatible stores need', false)
    .option('-a, --access-key <id>', 'access key id (discouraged: visible in the process list; use the SDK default chain, e.g. AWS_ACCESS_KEY_ID)')
    .option('-s, --secret-key <key>', 'secret access key (discouraged, as -a)')
    .option('-t, --delegation-token <token>', 'session token (discouraged, as -a)')
    .option('--retry [n]', 'tries per request, backing off between them (default 5)', intOption('--retry', 1, 20))
    .option('--concurrency <n>', 'objects transferred at once (default 4)', intOption('--concurrency', 1, 32))
    .option('--json', 'print the result as one JSON object (no progress bar)', false);
}

export interface S3Connection {
  /** A client for `region` at `--endpoint` (or `endpoint`), built once per region and endpoint. */
  clientFor(region: string, endpoint?: string): S3Client;
  retry: RetryOptions;
  destroy(): void;
}

export function s3Connection(opts: S3CliFlags, io: CliIo): S3Connection {
  if ((opts.accessKey === undefined) !== (opts.secretKey === undefined)) {
    throw new InvalidOptionError('-a/-s', 'give both the access key id and the secret key, or neither (then the SDK default chain is used)');
  }
  if (opts.accessKey !== undefined) {
    io.stderr.write(
      'bundlefarm: warning: -a/-s put credentials in the process list and shell history; prefer the SDK default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, a role)\n',
    );
  }
  const credentials =
    opts.accessKey !== undefined && opts.secretKey !== undefined
      ? { accessKeyId: opts.accessKey, secretAccessKey: opts.secretKey, ...(opts.delegationToken !== undefined ? { sessionToken: opts.delegationToken } : {}) }
      : undefined;
  // The SDK prints a 9-line notice that its releases after January 2027 need Node 22 as soon as a client is
  // built on Node 20: on every command, it would bury the one-line result or error. Muted unless the user
  // set the SDK's own switch (the notice concerns whoever installs bundlefarm, see README).
  io.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= io.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
  const clients = new Map<string, S3Client>();
  return {
    clientFor(region, endpoint = opts.endpoint) {
      const id = `${region} ${endpoint ?? ''}`;
      let client = clients.get(id);
      if (!client) {
        const settings: S3Settings = {
          region,
          ...(endpoint !== undefined ? { endpoint } : {}),
          forcePathStyle: opts.pathStyle ?? false,
          ...(credentials ? { credentials } : {}),
        };
        client = createS3Client(settings);
        clients.set(id, client);
      }
      return client;
    },
    retry: typeof opts.retry === 'number' ? { attempts: opts.retry } : {},
    destroy() {
      for (const c of clients.values()) c.destroy();
    },
  };
}

/**
 * The bucket's region (GetBucketLocation, asked in `--region`, else us-east-1, where S3 answers it for
 * any bucket) and the region to work in: `--region`, else the bucket's, else us-east-1.
 */
export async function locateBucket(
  connection: S3Connection,
  bucket: string,
  requested: string | undefined,
  endpoint?: string,
): Promise<{ bucketRegion: string | undefined; region: string }> {
  const found = await bucketRegion(connection.clientFor(requested ?? 'us-east-1', endpoint), bucket);
  return { bucketRegion: found, region: requested ?? found ?? 'us-east-1' };
}

/** Prints `value` as one line of JSON. */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value)}\n`);
}
