/*
 * The store behind the S3 front: s3rver (file-backed) on a private loopback port, spoken to without
 * signatures (it takes unsigned requests as anonymous and enforces nothing), after the front has
 * checked what S3 checks. s3rver keeps bytes, listings, ranges, multipart uploads and copies as S3
 * does; one flaw of its own is mended here (see `withoutDirectoryRace`).
 */
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { encodedPath } from './request-target.js';

export interface StoreRequest {
  method: string;
  /** Encoded path (see `encodedPath`). */
  path: string;
  /** Encoded query, without `?`. */
  query?: string;
  headers: Record<string, string>;
  body: Buffer;
}

export interface StoreResponse {
  status: number;
  headers: Record<string, string | string[]>;
  message: IncomingMessage;
}

/** The subset of s3rver 3.x used (it ships no type declarations). */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  store: { deleteObject(bucket: string, key: string): Promise<void> };
}
type S3rverConstructor = new (options: { address: string; port: number; silent: boolean; directory: string; vhostBuckets: boolean }) => S3rverInstance;

export class S3rverStore {
  private readonly agent = new Agent({ keepAlive: true });

  private constructor(
    private readonly server: S3rverInstance,
    private readonly endpoint: URL,
  ) {}

  /** Starts s3rver on a free loopback port, keeping its files in `directory`. */
  static async start(directory: string): Promise<S3rverStore> {
    const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;
    const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, vhostBuckets: false });
    withoutDirectoryRace(server.store);
    const address = await server.run();
    return new S3rverStore(server, new URL(`http://127.0.0.1:${address.port}`));
  }

  /**
   * One request. A kept-alive connection the store closed just as it was reused fails with
   * ECONNRESET before the store read anything (Node's documented keep-alive race): sent again once.
   */
  async request(o: StoreRequest): Promise<StoreResponse> {
    try {
      return await this.requestOnce(o);
    } catch (err) {
      if ((err as { reusedSocket?: boolean }).reusedSocket && (err as { code?: unknown }).code === 'ECONNRESET') return this.requestOnce(o);
      throw err;
    }
  }

  /** HEAD of an object: its headers, or undefined when it does not exist. */
  async head(bucket: string, key: string): Promise<Record<string, string | string[]> | undefined> {
    const r = await this.request({ method: 'HEAD', path: encodedPath(bucket, key), headers: {}, body: Buffer.alloc(0) });
    r.message.resume();
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new Error(`the store answered HEAD with ${r.status}`);
    return r.headers;
  }

  async createBucket(name: string): Promise<void> {
    const response = await this.request({ method: 'PUT', path: encodedPath(name), headers: {}, body: Buffer.alloc(0) });
    const text = await readAll(response.message);
    if (response.status !== 200) throw new Error(`the store refused bucket ${name}: ${response.status} ${text.toString().slice(0, 200)}`);
  }

  async close(): Promise<void> {
    this.agent.destroy();
    await this.server.close().catch(() => {});
  }

  private requestOnce(o: StoreRequest): Promise<StoreResponse> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: this.endpoint.hostname,
          port: this.endpoint.port,
          method: o.method,
          path: o.path + (o.query ? `?${o.query}` : ''),
          headers: { ...o.headers, 'content-length': String(o.body.length) },
          agent: this.agent,
        },
        (message) => resolve({ status: message.statusCode ?? 502, headers: message.headers as Record<string, string | string[]>, message }),
      );
      req.on('error', (err) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
      req.end(o.method === 'GET' || o.method === 'HEAD' ? undefined : o.body);
    });
  }
}

export function readAll(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/**
 * s3rver keeps `a/b/key` as files in directory `a/b/`, and a delete removes the directories it left
 * empty (readdir, then rmdir): two deletes in one directory at once race, and the loser answers 500
 * (ENOENT, or ENOTEMPTY when a PUT refilled it) although its object is gone. S3 has no directories and
 * no such failure, so the directory cleanup's own errors are ignored.
 */
function withoutDirectoryRace(store: S3rverInstance['store']): void {
  const deleteObject = store.deleteObject.bind(store);
  store.deleteObject = async (bucket, key) => {
    try {
      await deleteObject(bucket, key);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code !== 'ENOENT' && code !== 'ENOTEMPTY') throw err;
    }
  };
}
