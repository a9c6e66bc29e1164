import { request as httpRequest } from 'node:http';
import { after } from 'node:test';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import { XMLParser } from 'fast-xml-parser';
import { createFreshBucket } from '../helpers/s3-objects.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import type { S3FrontBucketOptions } from '@bundlefarm/s3-local';

/*
 * What the S3 front's own tests share: one front per test file (us-east-1, eu-west-1 and af-south-1
 * endpoints), SDK clients of a region with a key pair, and `send`, which signs a request with the
 * SDK's signer (or not at all) and lets the test change it afterwards, as a broken client or a
 * tampering proxy would, then returns S3's answer, its error XML parsed.
 */
export const KEYS = { ...S3RVER_CREDENTIALS };

let started: Promise<S3TestServer> | undefined;
const clients: S3Client[] = [];
after(async () => {
  for (const c of clients) c.destroy();
  await (await started)?.stop();
});

export function frontServer(): Promise<S3TestServer> {
  started ??= startS3Server({ regions: ['eu-west-1', 'af-south-1'] });
  return started;
}

export async function bucketIn(region: string, options: S3FrontBucketOptions = {}, label = 'f'): Promise<string> {
  return createFreshBucket(await frontServer(), label, { region, ...options });
}

/** An SDK client of `region` at that region's endpoint (or `endpoint`), one attempt, checksums only when required. */
export async function client(region = 'us-east-1', config: Partial<S3ClientConfig> & { endpoint?: string } = {}): Promise<S3Client> {
  const s3 = await frontServer();
  const c = new S3Client({
    region,
    endpoint: config.endpoint ?? s3.endpointFor(region),
    forcePathStyle: true,
    credentials: { ...KEYS },
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...config,
  });
  clients.push(c);
  return c;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The error's elements (Code, Message, Region …) when the body is S3's error XML. */
  error: Record<string, string> | undefined;
}

const parser = new XMLParser({ parseTagValue: false });

export interface SendOptions {
  method: string;
  /** Full URL, e.g. `${endpoint}/bucket/key?acl`. */
  url: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Sign with these (default the test keys); `false`: send unsigned. */
  sign?: false | { accessKeyId: string; secretAccessKey: string };
  region?: string;
  signingDate?: Date;
  /** Changes the signed request before it is sent (headers, body). */
  tamper?: (request: { headers: Record<string, string>; body: Buffer }) => void;
}

/** One request, signed by the SDK's signer unless `sign: false`, with the payload's SHA-256 signed. */
export async function send(o: SendOptions): Promise<Answer> {
  const url = new URL(o.url);
  const body = Buffer.from(o.body ?? '');
  let headers: Record<string, string> = { host: url.host, ...o.headers };
  if (o.sign !== false) {
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const signer = new SignatureV4({ credentials: o.sign ?? KEYS, region: o.region ?? 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
    const unsigned: HttpRequest = { method: o.method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: url.pathname, query, headers, body };
    const signed = await signer.sign(unsigned, { signingDate: o.signingDate ?? new Date() });
    headers = signed.headers;
  }
  const r = { headers: { ...headers }, body };
  o.tamper?.(r);
  return rawSend(o.method, url, r.headers, r.body);
}

export function rawSend(method: string, url: URL, headers: Record<string, string>, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ method, host: url.hostname, port: url.port, path: url.pathname + url.search, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const out = Buffer.concat(chunks);
        let error: Record<string, string> | undefined;
        if ((res.statusCode ?? 0) >= 300 && out.length > 0) {
          const parsed = parser.parse(out.toString('utf8')) as { Error?: Record<string, string> };
          error = parsed.Error;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: out, error });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The status and S3 code of a rejected SDK call. */
export async function sdkRefusal(promise: Promise<unknown>): Promise<{ status: number | undefined; code: string; error: Record<string, unknown> }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e as { name: string; $metadata?: { httpStatusCode?: number } } & Record<string, unknown>,
  );
  if (!err) throw new Error('the S3 call succeeded; a refusal was expected');
  return { status: err.$metadata?.httpStatusCode, code: err.name, error: err };
}
