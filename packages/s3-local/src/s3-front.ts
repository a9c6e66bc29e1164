/*
 * The S3 front: an HTTP server that checks every request as Amazon S3 does and answers refusals with
 * S3's own codes and XML bodies, and passes what S3 would accept to a plain S3 store behind it
 * (s3rver, file-backed, on a private loopback port), which keeps the bytes. What the front checks:
 *
 * - authentication: SigV4 in the Authorization header and in presigned URLs (signature computed with
 *   the AWS SDK's signer; expiry; signed headers; credential-scope region = the bucket's region;
 *   `x-amz-content-sha256` hashes, UNSIGNED-PAYLOAD, aws-chunked bodies with chunk signatures or
 *   trailers), SigV2 as ec2-ami-tools sent it (in the regions that took it), unknown keys, wrong
 *   secrets, session tokens, clock skew over 15 minutes; unsigned requests are anonymous;
 * - regions: one endpoint (port) per region; a bucket lives in one region; a path-style request at
 *   another region's endpoint gets `301 PermanentRedirect` (or 400 for regions launched after March
 *   2019), a signature scoped to another region `400 AuthorizationHeaderMalformed` naming the bucket's;
 *   GetBucketLocation tells the truth;
 * - integrity: Content-MD5, `x-amz-checksum-*` (headers and trailers), the signed payload hash;
 * - access: buckets belong to accounts; only the owner may write; reads by others need a grant (the
 *   object's canned ACL, recorded per object and listed by GetObjectAcl — `aws-exec-read` lets EC2's
 *   `za-team` read) or a public bucket; anonymous requests are refused otherwise;
 * - conditional requests (If-Match, If-None-Match on GET/HEAD and on PUT), which the store ignores.
 *
 * Every request is recorded (see RequestLog). Not modelled: virtual-hosted addressing (path-style
 * only), bucket policies beyond "public", explicit `x-amz-grant-*` grants and ACL bodies, SigV4a,
 * versioning, the `Date`-only form of SigV4. Usable outside tests (a local S3 for `bundlefarm serve
 * --local`): nothing here depends on node:test.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accessControlPolicyXml, cannedAclOf, cannedGrants, granted, type CannedAcl, type Grant } from './access-control.js';
import { decodeAwsChunked, type ChunkedMode } from './aws-chunked.js';
import { awsS3Host, isRegionName, NO_REDIRECT_REGIONS, SIGV2_REGIONS } from './aws-regions.js';
import { accountNamed, accountOf, CredentialStore, DEFAULT_ACCOUNT, type S3Account, type S3FrontCredentials } from './credentials.js';
import { BodyDigester, checkContentMd5, checkFlexibleChecksum, checkPayloadHash, CHECKSUM_HEADERS, digestsOf, type BodyDigests } from './payload-integrity.js';
import { RequestLog, type AuthKind, type RecordedS3Request } from './request-log.js';
import { encodedPath, parseTarget, queryValue, type RequestTarget } from './request-target.js';
import { errorXml, S3FrontError, s3Errors } from './s3-error.js';
import { deletedKeys, deleteRequestKeys, locationConstraint, uploadIdOf } from './s3-xml.js';
import { readAll, S3rverStore } from './s3rver-store.js';
import { sigV2Kind, verifySigV2 } from './signature-v2.js';
import {
  credentialScopeOf,
  signWithScope,
  sigV4Kind,
  STREAMING_SIGNED,
  STREAMING_SIGNED_TRAILER,
  STREAMING_UNSIGNED_TRAILER,
  verifySigV4,
  type SigV4Result,
} from './signature-v4.js';

/** S3 Object Ownership of a bucket: whether ACLs apply (ObjectWriter, BucketOwnerPreferred) or not (BucketOwnerEnforced). */
export type ObjectOwnership = 'ObjectWriter' | 'BucketOwnerPreferred' | 'BucketOwnerEnforced';

export interface S3FrontBucketOptions {
  /** The bucket's region (default: the front's `defaultRegion`). Its endpoint is opened if it is not yet. */
  region?: string;
  /** The account that owns it (default `bundlefarm-test`, the account of keys registered without one). */
  owner?: string;
  /** Anonymous callers may read (list, GET and HEAD objects), as with a public-read bucket policy (default false). */
  public?: boolean;
  /**
   * Whether ACLs apply (default ObjectWriter: ACLs enabled, which instance-store bundles need).
   * BucketOwnerEnforced refuses any `x-amz-acl` but bucket-owner-full-control with
   * AccessControlListNotSupported, as buckets S3 creates since April 2023 do by default.
   */
  objectOwnership?: ObjectOwnership;
  /** Canned ACL of the bucket itself (default private). */
  acl?: CannedAcl;
  /**
   * `'adopt'`: a bucket of that name the store already keeps (a front started again on the same
   * `directory`) is taken over with these settings, its objects kept; default `'fail'`. Object ACLs are
   * not kept across runs: earlier objects read back as private.
   */
  existing?: 'fail' | 'adopt';
}

export interface S3FrontOptions {
  /** Region of `endpoint` (default us-east-1). */
  defaultRegion?: string;
  /** More regions whose endpoints open at start (others open with `openRegion` or when a bucket is created there). */
  regions?: readonly string[];
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Fixed port per region (default: a free port each). */
  ports?: Readonly<Record<string, number>>;
  /** Directory of the store behind the front (default: a new temporary directory, removed by `close`). */
  directory?: string;
  /** Key pairs this front accepts (besides those registered process-wide). */
  credentials?: readonly S3FrontCredentials[];
  /** Also accept keys registered with `registerProcessCredentials` (default true). */
  processCredentials?: boolean;
  /** Canned ACL names accepted besides S3's, and the ACL each stands for (default none: S3 refuses others). */
  cannedAclAliases?: Readonly<Record<string, CannedAcl>>;
  /** Accept SigV2 in the regions S3 accepted it in (default true). */
  sigV2?: boolean;
  /** The clock requests are checked against (default: the system clock). */
  now?: () => Date;
  /** Keep every request in `requests.all` (default true; false for a front that runs for long, e.g. `bundlefarm serve --local`). */
  recordRequests?: boolean;
  /** Largest request body accepted, in bytes (default 1 GiB; bodies are held in memory to be checked before they are stored). */
  maxBodyBytes?: number;
}

export const S3_FRONT_DEFAULTS = { defaultRegion: 'us-east-1', host: '127.0.0.1', maxBodyBytes: 1024 ** 3 } as const;

interface BucketRecord {
  name: string;
  region: string;
  owner: S3Account;
  public: boolean;
  objectOwnership: ObjectOwnership;
  acl: CannedAcl;
  grants: Grant[];
}

export interface ObjectAclRecord {
  /** The canned ACL the object was written with ('private' when none was sent). */
  acl: CannedAcl;
  owner: S3Account;
  grants: Grant[];
}

interface Principal {
  account: S3Account;
  accessKeyId: string;
}

/** One request in the making. */
interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  endpointRegion: string;
  target: RequestTarget;
  /** Lowercase names; repeated headers joined with ','. */
  headers: Record<string, string>;
  /** `headers` plus `x-amz-*` query parameters (headers hoisted into a presigned URL count as sent). */
  effective: Record<string, string>;
  record: RecordedS3Request;
  body: Buffer;
  /** MD5 and SHA-256 of `body` (of the decoded data for aws-chunked bodies). */
  digests: BodyDigests;
  trailers: Map<string, string>;
  principal: Principal | undefined;
  requestId: string;
}

/** Headers that describe one connection, not the request: never passed on. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'expect', 'te', 'trailer', 'host']);
/** Request headers that belong to authentication, chunked framing or conditions the front settles itself. */
const FRONT_ONLY_HEADERS = new Set([
  'authorization',
  'x-amz-content-sha256',
  'x-amz-date',
  'x-amz-security-token',
  'x-amz-decoded-content-length',
  'x-amz-trailer',
  'x-amz-sdk-checksum-algorithm',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'content-length',
  ...CHECKSUM_HEADERS,
]);
const AUTH_QUERY = new Set([
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
  'X-Amz-Security-Token',
  'AWSAccessKeyId',
  'Signature',
  'x-id',
]);
/** Headers kept out of request records (secrets). */
const UNRECORDED_HEADERS = new Set(['authorization', 'x-amz-security-token', 'cookie']);
const READ_OPERATIONS = new Set(['GetObject', 'HeadObject']);
const BUCKET_READ_OPERATIONS = new Set(['ListObjects', 'ListObjectsV2', 'HeadBucket', 'GetBucketLocation', 'ListObjectVersions', 'ListMultipartUploads']);

export class S3Front {
  /** Every request answered, in order. */
  readonly requests: RequestLog;
  readonly defaultRegion: string;
  /** Where the store behind the front keeps its files. */
  readonly directory: string;

  private readonly servers = new Map<string, { server: Server; endpoint: string }>();
  private readonly opening = new Map<string, Promise<string>>();
  private readonly sockets = new Set<Socket>();
  private readonly buckets = new Map<string, BucketRecord>();
  /** bucket → key → ACL of the object. */
  private readonly objectAcls = new Map<string, Map<string, ObjectAclRecord>>();
  /** Multipart uploads under way: upload id → the ACL the object gets when completed. */
  private readonly pendingUploads = new Map<string, ObjectAclRecord>();
  /** Writes to one key run one at a time, so a conditional write's check and its write are one step. */
  private readonly keyLocks = new Map<string, Promise<void>>();
  private readonly credentials: CredentialStore;
  private readonly aliases: Readonly<Record<string, CannedAcl>>;
  private readonly now: () => Date;
  private readonly maxBodyBytes: number;
  private closed = false;

  private constructor(
    private readonly options: S3FrontOptions,
    private readonly store: S3rverStore,
    directory: string,
    private readonly ownsDirectory: boolean,
  ) {
    this.requests = new RequestLog(options.recordRequests ?? true);
    this.defaultRegion = options.defaultRegion ?? S3_FRONT_DEFAULTS.defaultRegion;
    this.directory = directory;
    this.credentials = new CredentialStore(options.credentials ?? [], options.processCredentials ?? true);
    this.aliases = options.cannedAclAliases ?? {};
    this.now = options.now ?? (() => new Date());
    this.maxBodyBytes = options.maxBodyBytes ?? S3_FRONT_DEFAULTS.maxBodyBytes;
  }

  /** Starts the store and the endpoints of the default region and of `options.regions`. */
  static async start(options: S3FrontOptions = {}): Promise<S3Front> {
    for (const region of [options.defaultRegion, ...(options.regions ?? [])]) {
      if (region !== undefined && !isRegionName(region)) throw new TypeError(`S3 front: ${JSON.stringify(region)} is not a region name`);
    }
    const ownsDirectory = options.directory === undefined;
    const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'bundlefarm-s3-front-')));
    let front: S3Front | undefined;
    try {
      front = new S3Front(options, await S3rverStore.start(directory), directory, ownsDirectory);
      await Promise.all([front.defaultRegion, ...(options.regions ?? [])].map((r) => front!.openRegion(r)));
      return front;
    } catch (err) {
      if (front) await front.close();
      else if (ownsDirectory) await rm(directory, { recursive: true, force: true });
      throw err;
    }
  }

  /** `http://HOST:PORT` of the default region's endpoint. */
  get endpoint(): string {
    return this.endpointFor(this.defaultRegion);
  }

  /** The endpoint of `region` (opened at start, by `openRegion`, or by creating a bucket there). */
  endpointFor(region: string): string {
    const open = this.servers.get(region);
    if (!open) throw new Error(`S3 front: no endpoint for ${region} is open (list it in options.regions, or call openRegion)`);
    return open.endpoint;
  }

  /** Regions with an open endpoint. */
  regions(): string[] {
    return [...this.servers.keys()];
  }

  /** Opens the endpoint of `region` (once) and resolves with it. */
  openRegion(region: string): Promise<string> {
    if (!isRegionName(region)) return Promise.reject(new TypeError(`S3 front: ${JSON.stringify(region)} is not a region name`));
    const open = this.servers.get(region);
    if (open) return Promise.resolve(open.endpoint);
    let opening = this.opening.get(region);
    if (!opening) {
      opening = this.listen(region);
      this.opening.set(region, opening);
    }
    return opening;
  }

  addCredentials(credentials: S3FrontCredentials): void {
    this.credentials.add(credentials);
  }

  /** Creates a bucket as its owner would (no request recorded). */
  async createBucket(name: string, options: S3FrontBucketOptions = {}): Promise<void> {
    checkBucketName(name);
    if (this.buckets.has(name)) throw new Error(`S3 front: bucket ${name} exists already`);
    const region = options.region ?? this.defaultRegion;
    await this.openRegion(region);
    await this.store.createBucket(name, options.existing === 'adopt');
    this.registerBucket(name, { ...options, region });
  }

  /** The region of a bucket, undefined when there is none of that name. */
  bucketRegion(name: string): string | undefined {
    return this.buckets.get(name)?.region;
  }

  /** The ACL an object was stored with (undefined when the front stored no such object). */
  objectAcl(bucket: string, key: string): ObjectAclRecord | undefined {
    return this.objectAcls.get(bucket)?.get(key);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sockets) s.destroy();
    await Promise.all([...this.opening.values()].map((p) => p.catch(() => undefined)));
    await Promise.all([...this.servers.values()].map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve()))));
    await this.store.close();
    if (this.ownsDirectory) await rm(this.directory, { recursive: true, force: true });
  }

  private async listen(region: string): Promise<string> {
    const server = createServer((req, res) => {
      this.handle(req, res, region).catch((err: unknown) => {
        // a bug of the front, not a refusal: say so loudly, answer like S3's 500
        console.error('S3 front: internal error', err);
        if (!res.headersSent) this.sendError(res, req.method ?? 'GET', new S3FrontError(500, 'InternalError', 'We encountered an internal error. Please try again.'), randomId());
        else res.destroy();
      });
    });
    // idle kept-alive connections stay open for a minute, as clients expect of S3 (Node's default of
    // 5 s closes them under clients that reuse them a moment later, which then see ECONNRESET)
    server.keepAliveTimeout = 60_000;
    server.headersTimeout = 65_000;
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    const host = this.options.host ?? S3_FRONT_DEFAULTS.host;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.ports?.[region] ?? 0, host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const endpoint = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    this.servers.set(region, { server, endpoint });
    return endpoint;
  }

  private registerBucket(name: string, options: S3FrontBucketOptions & { region: string }): BucketRecord {
    const owner = accountNamed(options.owner ?? DEFAULT_ACCOUNT);
    const acl = options.acl ?? 'private';
    const record: BucketRecord = {
      name,
      region: options.region,
      owner,
      public: options.public ?? false,
      objectOwnership: options.objectOwnership ?? 'ObjectWriter',
      acl,
      grants: cannedGrants(acl, owner, owner),
    };
    this.buckets.set(name, record);
    this.objectAcls.set(name, new Map());
    return record;
  }

  // ---------------------------------------------------------------------------------------------
  // One request

  private async handle(req: IncomingMessage, res: ServerResponse, endpointRegion: string): Promise<void> {
    const requestId = randomId();
    const method = req.method ?? 'GET';
    const headers: Record<string, string> = {};
    for (const [name, values] of Object.entries(req.headersDistinct)) {
      if (values !== undefined) headers[name] = values.map((v) => v.trim()).join(',');
    }
    let target: RequestTarget;
    try {
      target = parseTarget(method, req.url ?? '/', headers);
    } catch (err) {
      req.resume();
      if (err instanceof S3FrontError) return this.sendError(res, method, err, requestId);
      throw err;
    }
    const effective = { ...headers };
    for (const [name, value] of target.query) {
      const lower = name.toLowerCase();
      if (lower.startsWith('x-amz-') && !(lower in effective) && !AUTH_QUERY.has(name)) effective[lower] = value;
    }
    const record = this.requests.begin({
      endpointRegion,
      method,
      path: target.rawPath,
      query: Object.fromEntries([...target.query].reverse()),
      bucket: target.bucket,
      key: target.key,
      operation: target.operation,
      auth: 'anonymous',
      accessKeyId: undefined,
      account: undefined,
      signingRegion: undefined,
      payload: headers['x-amz-content-sha256'],
      headers: Object.fromEntries(Object.entries(headers).filter(([name]) => !UNRECORDED_HEADERS.has(name))),
      bodyBytes: 0,
      bodyMd5: '',
      status: 0,
      errorCode: undefined,
      acl: undefined,
      deleteKeys: undefined,
      remote: `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`,
    });
    const x: Exchange = { req, res, endpointRegion, target, headers, effective, record, body: Buffer.alloc(0), digests: digestsOf(Buffer.alloc(0)), trailers: new Map(), principal: undefined, requestId };
    const received = await this.readBody(req);
    if (received === 'gone') return;
    if (received === 'too-large') {
      this.fail(x, new S3FrontError(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', { MaxSizeAllowed: String(this.maxBodyBytes) }));
      res.on('finish', () => req.socket.destroy());
      return;
    }
    x.body = received.body;
    x.digests = received.digests;
    x.record.bodyBytes = received.body.length;
    x.record.bodyMd5 = received.digests.md5;
    try {
      await this.process(x);
    } catch (err) {
      if (err instanceof S3FrontError) this.fail(x, err);
      else throw err;
    }
  }

  /** The whole body, digested as it arrives. */
  private readBody(req: IncomingMessage): Promise<{ body: Buffer; digests: BodyDigests } | 'gone' | 'too-large'> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      const digester = new BodyDigester();
      let size = 0;
      let tooLarge = false;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > this.maxBodyBytes) tooLarge = true;
        if (tooLarge) return;
        chunks.push(c);
        digester.update(c);
      });
      req.on('end', () => resolve(tooLarge ? 'too-large' : { body: Buffer.concat(chunks, size), digests: digester.digests() }));
      req.on('error', () => resolve('gone'));
      req.on('aborted', () => resolve('gone'));
    });
  }

  private async process(x: Exchange): Promise<void> {
    const { target } = x;
    const bucket = target.bucket !== undefined ? this.buckets.get(target.bucket) : undefined;
    if (bucket && bucket.region !== x.endpointRegion && target.operation !== 'GetBucketLocation') throw this.wrongEndpoint(bucket);

    // the credential scope must name the bucket's region (GetBucketLocation: or us-east-1's, where
    // clients ask when they do not know it); without a bucket, the endpoint's — except for a bucket
    // that does not exist, which is NoSuchBucket whatever the scope
    const regions = bucket
      ? target.operation === 'GetBucketLocation'
        ? [bucket.region, 'us-east-1']
        : [bucket.region]
      : target.bucket === undefined || target.operation === 'CreateBucket'
        ? [x.endpointRegion]
        : [];
    x.principal = await this.authenticate(x, regions, bucket?.region ?? x.endpointRegion);
    this.authorize(x, bucket);

    checkPayloadHash(x.headers['x-amz-content-sha256'], x.digests);
    checkContentMd5(x.headers['content-md5'], x.digests);
    await checkFlexibleChecksum(x.headers, x.trailers, x.body);

    if (target.bucket === undefined) {
      await this.forwardAndAnswer(x);
      return;
    }
    if (!bucket) {
      if (target.operation === 'CreateBucket') return this.createBucketFromRequest(x);
      throw s3Errors.noSuchBucket(target.bucket);
    }
    switch (target.operation) {
      case 'CreateBucket':
        return this.createExistingBucket(x, bucket);
      case 'DeleteBucket':
        return this.deleteBucket(x, bucket);
      case 'GetBucketLocation':
        return this.answerXml(
          x,
          bucket.region === 'us-east-1'
            ? '<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
            : `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${bucket.region}</LocationConstraint>`,
        );
      case 'GetBucketAcl':
        return this.answerXml(x, accessControlPolicyXml(bucket.owner, bucket.grants));
      case 'PutBucketAcl':
        return this.putBucketAcl(x, bucket);
      case 'HeadBucket':
        await this.forwardAndAnswer(x, { extraHeaders: { 'x-amz-bucket-region': bucket.region } });
        return;
      case 'GetObjectAcl':
        return this.getObjectAcl(x, bucket);
      case 'PutObjectAcl':
        return this.putObjectAcl(x, bucket);
      case 'GetObject':
      case 'HeadObject':
        return this.readObject(x);
      case 'PutObject':
      case 'CopyObject':
        return this.withKeyLock(bucket.name, target.key!, () => this.writeObject(x, bucket));
      case 'DeleteObject':
        return this.withKeyLock(bucket.name, target.key!, () => this.deleteObject(x, bucket));
      case 'DeleteObjects':
        return this.deleteObjects(x, bucket);
      case 'CreateMultipartUpload':
        return this.createMultipartUpload(x, bucket);
      case 'CompleteMultipartUpload':
        return this.withKeyLock(bucket.name, target.key!, () => this.completeMultipartUpload(x, bucket));
      case 'ListParts':
        return this.listParts(x, bucket);
      case 'AbortMultipartUpload': {
        const uploadId = queryValue(target, 'uploadId');
        await this.forwardAndAnswer(x);
        if (x.record.status === 204 && uploadId !== undefined) this.pendingUploads.delete(uploadId);
        return;
      }
      default:
        if (target.operation.startsWith('PutBucket?')) throw s3Errors.notImplemented(target.operation);
        await this.forwardAndAnswer(x);
    }
  }

  /** The answer to a path-style request at another region's endpoint. */
  private wrongEndpoint(bucket: BucketRecord): S3FrontError {
    const headers = { 'x-amz-bucket-region': bucket.region };
    if (NO_REDIRECT_REGIONS.has(bucket.region)) {
      return new S3FrontError(400, 'IllegalLocationConstraintException', `The ${bucket.region} location constraint is incompatible for the region specific endpoint this request was sent to.`, {}, headers);
    }
    const local = this.servers.get(bucket.region)?.endpoint;
    return new S3FrontError(
      301,
      'PermanentRedirect',
      'The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.',
      { Bucket: bucket.name, Endpoint: local !== undefined ? new URL(local).host : awsS3Host(bucket.region) },
      headers,
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Authentication and access

  private async authenticate(x: Exchange, regions: readonly string[], bucketRegion: string): Promise<Principal | undefined> {
    const { headers, target } = x;
    const v4 = sigV4Kind(headers, target.query);
    const v2 = v4 === undefined ? sigV2Kind(headers, target.query) : undefined;
    const forms = [headers.authorization !== undefined, target.query.some(([n]) => n === 'X-Amz-Algorithm'), target.query.some(([n]) => n === 'Signature')].filter(Boolean);
    if (forms.length > 1) {
      throw s3Errors.invalidArgument(
        'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
        'Authorization',
        headers.authorization ?? '',
      );
    }
    const lookup = (id: string): S3FrontCredentials | undefined => this.credentials.find(id);
    const payloadMode = headers['x-amz-content-sha256'];
    const streaming = payloadMode?.startsWith('STREAMING-') ?? false;
    if (v4 !== undefined) {
      const auth = await verifySigV4({ request: { method: target.method, rawPath: target.rawPath, query: target.query, headers }, now: this.now(), lookup, regions });
      this.noteAuth(x, v4 === 'header' ? 'sigv4-header' : 'sigv4-query', auth.accessKeyId, auth.credentials, auth.scope.region);
      if (streaming) {
        if (v4 !== 'header') throw s3Errors.invalidRequest('Streaming payloads are signed in the Authorization header, not a presigned URL');
        await this.decodeChunked(x, auth);
      } else if (x.headers['content-encoding']?.split(',').some((e) => e.trim() === 'aws-chunked')) {
        throw s3Errors.invalidRequest('Content-Encoding aws-chunked needs a STREAMING- x-amz-content-sha256');
      }
      return { account: accountOf(auth.credentials), accessKeyId: auth.accessKeyId };
    }
    if (v2 !== undefined) {
      if (!(this.options.sigV2 ?? true) || !SIGV2_REGIONS.has(bucketRegion)) {
        throw s3Errors.invalidRequest('The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
      }
      const headerValues: Record<string, string[]> = {};
      for (const [name, values] of Object.entries(x.req.headersDistinct)) if (values !== undefined) headerValues[name] = values;
      const auth = verifySigV2({ request: { method: target.method, rawPath: target.rawPath, query: target.query, headers, headerValues }, now: this.now(), lookup });
      this.noteAuth(x, v2 === 'header' ? 'sigv2-header' : 'sigv2-query', auth.accessKeyId, auth.credentials, undefined);
      if (streaming) throw s3Errors.invalidRequest('Streaming payloads need AWS4-HMAC-SHA256');
      return { account: accountOf(auth.credentials), accessKeyId: auth.accessKeyId };
    }
    if (headers.authorization !== undefined) throw s3Errors.invalidArgument('Unsupported Authorization Type', 'Authorization', headers.authorization.slice(0, 40));
    if (streaming) throw s3Errors.accessDenied('Streaming payloads need a signed request');
    return undefined;
  }

  private noteAuth(x: Exchange, kind: AuthKind, accessKeyId: string, credentials: S3FrontCredentials, region: string | undefined): void {
    x.record.auth = kind;
    x.record.accessKeyId = accessKeyId;
    x.record.account = accountOf(credentials).name;
    x.record.signingRegion = region;
  }

  private async decodeChunked(x: Exchange, auth: SigV4Result): Promise<void> {
    const mode: ChunkedMode | undefined = (
      { [STREAMING_SIGNED]: 'signed', [STREAMING_SIGNED_TRAILER]: 'signed-trailer', [STREAMING_UNSIGNED_TRAILER]: 'unsigned-trailer' } as Record<string, ChunkedMode>
    )[auth.payloadHash];
    if (mode === undefined) throw s3Errors.invalidRequest(`${auth.payloadHash} is not supported`);
    const decodedLength = x.headers['x-amz-decoded-content-length'];
    if (decodedLength === undefined || !/^\d+$/.test(decodedLength)) {
      throw new S3FrontError(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header (x-amz-decoded-content-length for aws-chunked bodies).');
    }
    const trailerNames = (x.headers['x-amz-trailer'] ?? '')
      .split(',')
      .map((n) => n.trim().toLowerCase())
      .filter((n) => n !== '');
    const decoded = await decodeAwsChunked(x.body, {
      mode,
      decodedLength: Number(decodedLength),
      trailerNames,
      ...(mode !== 'unsigned-trailer'
        ? { signing: { seedSignature: auth.signature, longDate: auth.longDate, scope: credentialScopeOf(auth), sign: (s: string) => signWithScope(auth, s) } }
        : {}),
    });
    x.body = decoded.data;
    x.trailers = decoded.trailers;
    x.record.bodyBytes = decoded.data.length;
    x.digests = digestsOf(decoded.data);
    x.record.bodyMd5 = x.digests.md5;
  }

  /** Whether the caller may do what it asks (S3's answer when not: 403 AccessDenied). */
  private authorize(x: Exchange, bucket: BucketRecord | undefined): void {
    const { principal, target } = x;
    const isOwner = bucket !== undefined && principal?.account.canonicalId === bucket.owner.canonicalId;
    if (target.bucket === undefined || !bucket) {
      // ListBuckets, CreateBucket, and requests for buckets that do not exist (NoSuchBucket follows)
      if (principal === undefined && (target.bucket === undefined || target.operation === 'CreateBucket')) throw s3Errors.accessDenied();
      return;
    }
    if (isOwner) return;
    const op = target.operation;
    // another account asking for a name that is taken: answered 409 BucketAlreadyExists
    if (op === 'CreateBucket' && principal !== undefined) return;
    if (READ_OPERATIONS.has(op)) {
      if (bucket.public) return;
      const object = target.key !== undefined ? this.objectAcls.get(bucket.name)?.get(target.key) : undefined;
      if (object && granted(object.grants, principal?.account, 'READ')) return;
    } else if (op === 'GetObjectAcl') {
      const object = target.key !== undefined ? this.objectAcls.get(bucket.name)?.get(target.key) : undefined;
      if (object && granted(object.grants, principal?.account, 'READ_ACP')) return;
    } else if (BUCKET_READ_OPERATIONS.has(op)) {
      if (bucket.public || granted(bucket.grants, principal?.account, 'READ')) return;
    } else if (['PutObject', 'CopyObject', 'DeleteObject', 'DeleteObjects', 'CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload', 'AbortMultipartUpload'].includes(op)) {
      if (granted(bucket.grants, principal?.account, 'WRITE')) return;
    }
    throw s3Errors.accessDenied();
  }

  // ---------------------------------------------------------------------------------------------
  // Operations the front answers or follows

  private async createBucketFromRequest(x: Exchange): Promise<void> {
    const name = x.target.bucket!;
    checkBucketName(name);
    const constraint = locationConstraint(x.body);
    if (constraint === 'us-east-1') throw new S3FrontError(400, 'InvalidLocationConstraint', 'The specified location-constraint is not valid', { LocationConstraint: constraint });
    const region = constraint ?? 'us-east-1';
    if (region !== x.endpointRegion) {
      throw new S3FrontError(
        400,
        'IllegalLocationConstraintException',
        `The ${constraint ?? 'unspecified'} location constraint is incompatible for the region specific endpoint this request was sent to.`,
      );
    }
    const acl = cannedAclOf(x.effective['x-amz-acl'], 'bucket', this.aliases) ?? 'private';
    const ownership = x.headers['x-amz-object-ownership'] ?? 'BucketOwnerEnforced';
    if (!['ObjectWriter', 'BucketOwnerPreferred', 'BucketOwnerEnforced'].includes(ownership)) {
      throw s3Errors.invalidArgument('Invalid x-amz-object-ownership header', 'x-amz-object-ownership', ownership);
    }
    if (ownership === 'BucketOwnerEnforced' && acl !== 'private') {
      throw new S3FrontError(400, 'InvalidBucketAclWithObjectOwnership', 'Bucket cannot have ACLs set with ObjectOwnership\'s BucketOwnerEnforced setting');
    }
    await this.forwardAndAnswer(x, { body: Buffer.alloc(0) });
    if (x.record.status === 200) {
      this.registerBucket(name, { region, owner: x.principal!.account.name, objectOwnership: ownership as ObjectOwnership, acl });
      x.record.acl = acl;
    }
  }

  private async createExistingBucket(x: Exchange, bucket: BucketRecord): Promise<void> {
    if (x.principal!.account.canonicalId !== bucket.owner.canonicalId) {
      throw new S3FrontError(409, 'BucketAlreadyExists', 'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.', { BucketName: bucket.name });
    }
    // us-east-1 answers its owner's repeated CreateBucket with 200 (a legacy of the US Standard region)
    if (bucket.region === 'us-east-1' && locationConstraint(x.body) === undefined) return this.answerEmpty(x, 200, { location: `/${bucket.name}` });
    throw new S3FrontError(409, 'BucketAlreadyOwnedByYou', 'Your previous request to create the named bucket succeeded and you already own it.', { BucketName: bucket.name });
  }

  private async deleteBucket(x: Exchange, bucket: BucketRecord): Promise<void> {
    await this.forwardAndAnswer(x);
    if (x.record.status === 204) {
      this.buckets.delete(bucket.name);
      this.objectAcls.delete(bucket.name);
    }
  }

  private putBucketAcl(x: Exchange, bucket: BucketRecord): void {
    if (x.body.length > 0) throw s3Errors.notImplemented('ACLs in a request body (the front takes canned ACLs in x-amz-acl)');
    const acl = cannedAclOf(x.effective['x-amz-acl'], 'bucket', this.aliases);
    if (acl === undefined) throw new S3FrontError(400, 'MissingSecurityHeader', 'Your request was missing a required header', { MissingHeaderName: 'x-amz-acl' });
    if (bucket.objectOwnership === 'BucketOwnerEnforced' && acl !== 'private') throw aclsDisabled();
    bucket.acl = acl;
    bucket.grants = cannedGrants(acl, bucket.owner, bucket.owner);
    x.record.acl = acl;
    this.answerEmpty(x, 200);
  }

  private async getObjectAcl(x: Exchange, bucket: BucketRecord): Promise<void> {
    const head = await this.store.head(bucket.name, x.target.key!);
    if (!head) throw s3Errors.noSuchKey(x.target.key!);
    const acl = this.objectAcls.get(bucket.name)?.get(x.target.key!) ?? this.objectRecord('private', bucket, bucket.owner);
    this.answerXml(x, accessControlPolicyXml(acl.owner, acl.grants));
  }

  private async putObjectAcl(x: Exchange, bucket: BucketRecord): Promise<void> {
    if (x.body.length > 0) throw s3Errors.notImplemented('ACLs in a request body (the front takes canned ACLs in x-amz-acl)');
    const acl = cannedAclOf(x.effective['x-amz-acl'], 'object', this.aliases);
    if (acl === undefined) throw new S3FrontError(400, 'MissingSecurityHeader', 'Your request was missing a required header', { MissingHeaderName: 'x-amz-acl' });
    if (bucket.objectOwnership === 'BucketOwnerEnforced' && acl !== 'bucket-owner-full-control') throw aclsDisabled();
    if (!(await this.store.head(bucket.name, x.target.key!))) throw s3Errors.noSuchKey(x.target.key!);
    const previous = this.objectAcls.get(bucket.name)?.get(x.target.key!);
    this.objectAcls.get(bucket.name)!.set(x.target.key!, this.objectRecord(acl, bucket, previous?.owner ?? bucket.owner));
    x.record.acl = acl;
    this.answerEmpty(x, 200);
  }

  private objectRecord(acl: CannedAcl, bucket: BucketRecord, owner: S3Account): ObjectAclRecord {
    return { acl, owner, grants: cannedGrants(acl, owner, bucket.owner) };
  }

  /** The ACL a write asks for, refused as S3 refuses it; and who will own the object. */
  private aclForWrite(x: Exchange, bucket: BucketRecord): ObjectAclRecord {
    const requested = cannedAclOf(x.effective['x-amz-acl'], 'object', this.aliases);
    if (Object.keys(x.effective).some((h) => h.startsWith('x-amz-grant-'))) {
      if (bucket.objectOwnership === 'BucketOwnerEnforced') throw aclsDisabled();
      throw s3Errors.notImplemented('x-amz-grant-* headers (the front takes canned ACLs)');
    }
    if (bucket.objectOwnership === 'BucketOwnerEnforced' && requested !== undefined && requested !== 'bucket-owner-full-control') throw aclsDisabled();
    const writer = x.principal?.account ?? bucket.owner;
    const owner =
      bucket.objectOwnership === 'BucketOwnerEnforced' || (bucket.objectOwnership === 'BucketOwnerPreferred' && requested === 'bucket-owner-full-control') ? bucket.owner : writer;
    return this.objectRecord(requested ?? 'private', bucket, owner);
  }

  private async readObject(x: Exchange): Promise<void> {
    const h = x.headers;
    const conditional = ['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since'].some((n) => h[n] !== undefined);
    if (conditional) {
      const head = await this.store.head(x.target.bucket!, x.target.key!);
      if (!head) throw s3Errors.noSuchKey(x.target.key!);
      const etag = String(head.etag ?? '');
      const modified = Date.parse(String(head['last-modified'] ?? ''));
      const matches = (list: string): boolean => list.split(',').some((v) => v.trim() === '*' || unquote(v) === unquote(etag));
      if (h['if-match'] !== undefined && !matches(h['if-match'])) throw preconditionFailed('If-Match');
      if (h['if-match'] === undefined && h['if-unmodified-since'] !== undefined && modified > Date.parse(h['if-unmodified-since'])) {
        throw preconditionFailed('If-Unmodified-Since');
      }
      const notModified =
        h['if-none-match'] !== undefined ? matches(h['if-none-match']) : h['if-modified-since'] !== undefined && !(modified > Date.parse(h['if-modified-since']));
      if (notModified) return this.answerEmpty(x, 304, { etag, 'last-modified': String(head['last-modified'] ?? '') });
    }
    await this.forwardAndAnswer(x, { stream: true });
  }

  private async writeObject(x: Exchange, bucket: BucketRecord): Promise<void> {
    if (x.headers['content-length'] === undefined && x.headers['x-amz-decoded-content-length'] === undefined && x.target.operation === 'PutObject') {
      throw new S3FrontError(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
    }
    const acl = this.aclForWrite(x, bucket);
    const key = x.target.key!;
    const ifNoneMatch = x.headers['if-none-match'];
    const ifMatch = x.headers['if-match'];
    if (ifNoneMatch !== undefined || ifMatch !== undefined) {
      if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') throw s3Errors.notImplemented('If-None-Match other than * on a write');
      const head = await this.store.head(bucket.name, key);
      if (ifNoneMatch !== undefined && head) throw preconditionFailed('If-None-Match');
      if (ifMatch !== undefined) {
        if (!head) throw s3Errors.noSuchKey(key);
        if (unquote(ifMatch) !== unquote(String(head.etag ?? ''))) throw preconditionFailed('If-Match');
      }
    }
    await this.forwardAndAnswer(x);
    if (x.record.status === 200) {
      this.objectAcls.get(bucket.name)?.set(key, acl);
      x.record.acl = acl.acl;
    }
  }

  private async deleteObject(x: Exchange, bucket: BucketRecord): Promise<void> {
    await this.forwardAndAnswer(x);
    if (x.record.status === 204) this.objectAcls.get(bucket.name)?.delete(x.target.key!);
  }

  private async deleteObjects(x: Exchange, bucket: BucketRecord): Promise<void> {
    if (x.headers['content-md5'] === undefined && !CHECKSUM_HEADERS.some((h) => x.headers[h] !== undefined || x.trailers.has(h))) {
      throw s3Errors.invalidRequest('Missing required header for this request: Content-Md5.');
    }
    const keys = deleteRequestKeys(x.body);
    x.record.deleteKeys = keys;
    const out = await this.forwardAndAnswer(x, { keepBody: true });
    if (x.record.status !== 200 || !out) return;
    for (const key of deletedKeys(out)) this.objectAcls.get(bucket.name)?.delete(key);
  }

  private async createMultipartUpload(x: Exchange, bucket: BucketRecord): Promise<void> {
    const acl = this.aclForWrite(x, bucket);
    const out = await this.forwardAndAnswer(x, { keepBody: true });
    if (x.record.status !== 200 || !out) return;
    const uploadId = uploadIdOf(out);
    if (uploadId !== undefined) this.pendingUploads.set(uploadId, acl);
  }

  /**
   * ListParts, which s3rver lacks: read from s3rver's own files of the upload (`<bucket>/._S3rver_uploads/<id>/`:
   * `key`, and per part `N` with its MD5 in `N.md5`), answered as S3 does (one page; parts after
   * `part-number-marker`).
   */
  private async listParts(x: Exchange, bucket: BucketRecord): Promise<void> {
    const uploadId = queryValue(x.target, 'uploadId') ?? '';
    const noSuchUpload = new S3FrontError(404, 'NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', { UploadId: uploadId });
    if (!/^[0-9a-f]{1,64}$/.test(uploadId)) throw noSuchUpload;
    const dir = join(this.directory, bucket.name, '._S3rver_uploads', uploadId);
    const key = await readFile(join(dir, 'key'), 'utf8').catch(() => undefined);
    if (key === undefined || key !== x.target.key) throw noSuchUpload;
    const marker = Number(queryValue(x.target, 'part-number-marker') ?? '0');
    const names = (await readdir(dir)).filter((n) => /^\d+$/.test(n) && Number(n) > marker).sort((a, b) => Number(a) - Number(b));
    const parts: string[] = [];
    for (const n of names) {
      const md5 = await readFile(join(dir, `${n}.md5`), 'utf8').catch(() => undefined);
      if (md5 === undefined) continue; // still being written
      const info = await stat(join(dir, n));
      parts.push(`<Part><PartNumber>${n}</PartNumber><LastModified>${info.mtime.toISOString()}</LastModified><ETag>"${md5.trim()}"</ETag><Size>${info.size}</Size></Part>`);
    }
    const text = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    this.answerXml(
      x,
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>${text(bucket.name)}</Bucket><Key>${text(key)}</Key><UploadId>${uploadId}</UploadId>` +
        `<PartNumberMarker>${marker}</PartNumberMarker><MaxParts>1000</MaxParts><IsTruncated>false</IsTruncated>${parts.join('')}</ListPartsResult>`,
    );
  }

  private async completeMultipartUpload(x: Exchange, bucket: BucketRecord): Promise<void> {
    const uploadId = queryValue(x.target, 'uploadId');
    await this.forwardAndAnswer(x);
    if (x.record.status !== 200 || uploadId === undefined) return;
    const acl = this.pendingUploads.get(uploadId) ?? this.objectRecord('private', bucket, x.principal?.account ?? bucket.owner);
    this.pendingUploads.delete(uploadId);
    this.objectAcls.get(bucket.name)?.set(x.target.key!, acl);
    x.record.acl = acl.acl;
  }

  private async withKeyLock<T>(bucket: string, key: string, fn: () => Promise<T>): Promise<T> {
    const id = `${bucket}\u0000${key}`;
    const before = this.keyLocks.get(id) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const chained = before.then(() => mine);
    this.keyLocks.set(id, chained);
    await before;
    try {
      return await fn();
    } finally {
      release();
      if (this.keyLocks.get(id) === chained) this.keyLocks.delete(id);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The store behind the front

  /**
   * Passes the request on to the store and its answer back. With `stream`, a successful body is piped
   * (object reads); otherwise the answer is read whole, and returned when `keepBody`.
   */
  private async forwardAndAnswer(
    x: Exchange,
    o: { stream?: boolean; keepBody?: boolean; body?: Buffer; extraHeaders?: Record<string, string> } = {},
  ): Promise<Buffer | undefined> {
    const headers: Record<string, string> = {};
    // x.effective: headers hoisted into a presigned URL's query (x-amz-meta-* …) count as headers
    for (const [name, value] of Object.entries(x.effective)) {
      if (HOP_HEADERS.has(name) || FRONT_ONLY_HEADERS.has(name) || name.startsWith('proxy-')) continue;
      if (name === 'content-encoding') {
        const rest = value
          .split(',')
          .map((e) => e.trim())
          .filter((e) => e !== '' && e !== 'aws-chunked');
        if (rest.length > 0) headers[name] = rest.join(', ');
        continue;
      }
      headers[name] = value;
    }
    const query = x.target.query
      .filter(([name]) => !AUTH_QUERY.has(name) && !name.toLowerCase().startsWith('x-amz-'))
      .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
      .join('&');
    const response = await this.store.request({
      method: x.target.method,
      path: x.target.bucket === undefined ? '/' : encodedPath(x.target.bucket, x.target.key),
      query,
      headers,
      body: o.body ?? x.body,
    });
    const outHeaders: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (!HOP_HEADERS.has(name) && name !== 'x-amz-request-id' && name !== 'x-amz-id-2' && name !== 'content-length') outHeaders[name] = value;
    }
    Object.assign(outHeaders, o.extraHeaders);
    if (o.stream && response.status < 300) {
      const length = response.headers['content-length'];
      this.writeHead(x, response.status, { ...outHeaders, ...(length !== undefined ? { 'content-length': String(length) } : {}) });
      response.message.pipe(x.res);
      response.message.on('error', () => x.res.destroy());
      await new Promise<void>((resolve) => x.res.on('close', () => resolve()));
      return undefined;
    }
    const body = await readAll(response.message);
    if (response.status >= 300) x.record.errorCode = /<Code>([^<]+)<\/Code>/.exec(body.toString('utf8'))?.[1];
    this.writeHead(x, response.status, { ...outHeaders, 'content-length': String(x.target.method === 'HEAD' ? (response.headers['content-length'] ?? 0) : body.length) });
    x.res.end(x.target.method === 'HEAD' ? undefined : body);
    return o.keepBody ? body : undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Answers

  private writeHead(x: Exchange, status: number, headers: Record<string, string | string[]>): void {
    x.record.status = status;
    x.res.writeHead(status, { ...headers, 'x-amz-request-id': x.requestId, 'x-amz-id-2': hostId(x.requestId), server: 'AmazonS3' });
    this.requests.answered(x.record);
  }

  private answerXml(x: Exchange, body: string): void {
    const bytes = Buffer.from(body);
    this.writeHead(x, 200, { 'content-type': 'application/xml', 'content-length': String(bytes.length) });
    x.res.end(x.target.method === 'HEAD' ? undefined : bytes);
  }

  private answerEmpty(x: Exchange, status: number, headers: Record<string, string> = {}): void {
    this.writeHead(x, status, { ...headers, 'content-length': '0' });
    x.res.end();
  }

  private fail(x: Exchange, error: S3FrontError): void {
    x.record.errorCode = error.code;
    if (x.res.headersSent) {
      x.res.destroy();
      return;
    }
    x.record.status = error.status;
    this.sendError(x.res, x.target.method, error, x.requestId);
    this.requests.answered(x.record);
  }

  private sendError(res: ServerResponse, method: string, error: S3FrontError, requestId: string): void {
    const body = method === 'HEAD' ? Buffer.alloc(0) : Buffer.from(errorXml(error, requestId, hostId(requestId)));
    res.writeHead(error.status, {
      ...error.headers,
      'content-type': 'application/xml',
      'content-length': String(method === 'HEAD' ? 0 : body.length),
      'x-amz-request-id': requestId,
      'x-amz-id-2': hostId(requestId),
      server: 'AmazonS3',
    });
    res.end(body);
  }
}

// -----------------------------------------------------------------------------------------------

function randomId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

function hostId(requestId: string): string {
  return Buffer.from(`bundlefarm-s3-front/${requestId}`).toString('base64');
}

function unquote(etag: string): string {
  return etag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

function preconditionFailed(condition: string): S3FrontError {
  return new S3FrontError(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: condition });
}

function aclsDisabled(): S3FrontError {
  return new S3FrontError(400, 'AccessControlListNotSupported', 'The bucket does not allow ACLs');
}

/** S3's bucket naming rules (general purpose buckets). */
function checkBucketName(name: string): void {
  const ok =
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) &&
    !/\.\./.test(name) &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(name) &&
    !name.startsWith('xn--') &&
    !name.startsWith('sthree-') &&
    !name.endsWith('-s3alias') &&
    !name.endsWith('--ol-s3');
  if (!ok) throw new S3FrontError(400, 'InvalidBucketName', 'The specified bucket is not valid.', { BucketName: name });
}
