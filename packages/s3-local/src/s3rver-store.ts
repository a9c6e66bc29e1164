/*
 * The store behind the S3 front: s3rver (file-backed) on a private loopback port, on a thread of its
 * own (s3rver-thread.ts), spoken to without signatures (it takes unsigned requests as anonymous and
 * enforces nothing) after the front has checked what S3 checks. s3rver keeps bytes, listings, ranges,
 * multipart uploads and copies as S3 does.
 */
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Worker } from 'node:worker_threads';
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

export class S3rverStore {
  private readonly agent = new Agent({ keepAlive: true });

  private constructor(
    private readonly thread: Worker,
    private readonly endpoint: URL,
  ) {}

  /** Starts s3rver on a free loopback port, on a thread of its own, keeping its files in `directory`. */
  static async start(directory: string): Promise<S3rverStore> {
    const thread = new Worker(new URL('./s3rver-thread.js', import.meta.url), { workerData: { directory } });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        thread.once('message', (m: { port: number }) => resolve(m.port));
        thread.once('error', reject);
        thread.once('exit', (code) => reject(new Error(`the s3rver thread exited (${code}) before listening`)));
      });
      thread.removeAllListeners('error');
      thread.removeAllListeners('exit');
      // a crash of the store is a bug to see, not a reason to take the test process down silently
      thread.on('error', (err) => console.error('S3 front: the s3rver thread failed', err));
      return new S3rverStore(thread, new URL(`http://127.0.0.1:${port}`));
    } catch (err) {
      await thread.terminate();
      throw err;
    }
  }

  /**
   * One request. A kept-alive connection the store closed just as it was reused fails with
   * ECONNRESET before the store read anything (Node's documented keep-alive race): sent again, on a
   * new connection (the pool may hold more connections closed alike).
   */
  async request(o: StoreRequest): Promise<StoreResponse> {
    try {
      return await this.requestOnce(o, this.agent);
    } catch (err) {
      if ((err as { reusedSocket?: boolean }).reusedSocket && (err as { code?: unknown }).code === 'ECONNRESET') return this.requestOnce(o, false);
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

  /** Creates a bucket; with `adopt`, one the store kept from an earlier run is taken as it is. */
  async createBucket(name: string, adopt = false): Promise<void> {
    const response = await this.request({ method: 'PUT', path: encodedPath(name), headers: {}, body: Buffer.alloc(0) });
    const text = await readAll(response.message);
    if (adopt && response.status === 409 && text.toString().includes('<Code>BucketAlreadyExists</Code>')) return;
    if (response.status !== 200) throw new Error(`the store refused bucket ${name}: ${response.status} ${text.toString().slice(0, 200)}`);
  }

  async close(): Promise<void> {
    this.agent.destroy();
    const closed = new Promise<void>((resolve) => {
      this.thread.once('message', () => resolve());
      this.thread.once('exit', () => resolve());
    });
    this.thread.postMessage('close');
    await closed;
    await this.thread.terminate();
  }

  private requestOnce(o: StoreRequest, agent: Agent | false): Promise<StoreResponse> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: this.endpoint.hostname,
          port: this.endpoint.port,
          method: o.method,
          path: o.path + (o.query ? `?${o.query}` : ''),
          headers: { ...o.headers, 'content-length': String(o.body.length) },
          agent,
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
