import { createHash } from 'node:crypto';
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { mulberry32 } from './prng.js';

/**
 * A fault-injecting HTTP forwarding proxy on loopback, put between an S3 client and a test S3 server
 * (the client's endpoint is the proxy's). It forwards requests unchanged (Host included, so SigV4
 * signatures still verify upstream) unless a fault rule matches, and records every request.
 *
 * Faults, configurable at runtime per test: answer with an S3-style error status (500, 503 SlowDown …)
 * for the next N requests or a share of them, delay responses, drop the connection while the request
 * body arrives or after part of the response body, lose the answer of a request that took effect, or
 * answer with a canned response (e.g. a GetBucketLocation naming another region).
 *
 * The S3 server behind it (the S3 front) checks bodies as S3 does; with `verifyContentMd5` the proxy
 * also refuses a body that does not match its Content-MD5 with 400 BadDigest itself, before the server
 * sees it (off by default: then what a damaged body gets is the server's answer, as from S3).
 */
export type FaultAction =
  /** Answer with this status and an S3 XML error (`code` defaults from the status), without forwarding. */
  | { type: 'status'; status: number; code?: string }
  /** Forward, but hold the response back for `ms` first. */
  | { type: 'delay'; ms: number }
  /**
   * Take the whole request, then hold it for `ms` before forwarding it, even if the client gave up
   * meanwhile: the request takes effect late, as S3 may complete a PUT whose client went away.
   */
  | { type: 'hold-request'; ms: number }
  /** Destroy the client's connection once `afterBytes` of the request body arrived (default 0; at the body's end if shorter). */
  | { type: 'drop-request'; afterBytes?: number }
  /** Forward, send the response headers and `afterBytes` of its body, then destroy the connection. */
  | { type: 'drop-response'; afterBytes: number }
  /**
   * Forward (so the request takes effect: a PUT is stored), then destroy the connection before any of
   * the answer reaches the client: the write landed, the client only sees a dropped connection.
   */
  | { type: 'lose-response' }
  /** Forward unchanged: exempts the requests it matches from the rules added after it. */
  | { type: 'forward' }
  /** Flip one byte of the request body as if damaged in transit (then Content-MD5 no longer matches). */
  | { type: 'corrupt-request' }
  /** Answer with exactly this, without forwarding. */
  | { type: 'respond'; status: number; headers?: Record<string, string>; body?: string };

export interface RequestInfo {
  method: string;
  /** Path without the query, e.g. `/bucket/key`. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
}

export interface FaultRule {
  action: FaultAction;
  /** Which requests (default: all). */
  match?: (request: RequestInfo) => boolean;
  /** Affect at most this many matching requests (default: no limit). */
  times?: number;
  /** Affect this share of matching requests, 0–1, drawn from the proxy's seeded generator (default 1). */
  share?: number;
}

export type RequestOutcome =
  | 'forwarded'
  | 'status'
  | 'delayed'
  | 'held'
  | 'dropped-request'
  | 'dropped-response'
  | 'lost-response'
  | 'responded'
  | 'corrupted'
  | 'bad-digest'
  /** The client went away before its request body was complete. */
  | 'client-gone';

export interface RecordedRequest extends RequestInfo {
  /** Bytes of request body received (all of it unless the request was dropped). */
  bodyBytes: number;
  /** Base64 MD5 of the body received. */
  bodyMd5: string;
  outcome: RequestOutcome;
  /** Status sent to the client (undefined when the connection was dropped before). */
  status: number | undefined;
}

export interface FaultProxyCounters {
  requests: number;
  forwarded: number;
  injectedStatus: number;
  delayed: number;
  held: number;
  droppedRequests: number;
  droppedResponses: number;
  lostResponses: number;
  responded: number;
  corrupted: number;
  badDigest: number;
}

export interface FaultProxyOptions {
  /** Base URL of the server to forward to, e.g. `http://127.0.0.1:4568`. */
  target: string;
  /** Refuse bodies that do not match their Content-MD5 with 400 BadDigest, before forwarding (default false: the server behind decides). */
  verifyContentMd5?: boolean;
  /** Seed of the generator behind `share` (default 1): the same seed gives the same faults. */
  seed?: number;
  /** IPv4 address to listen on (default 127.0.0.1), e.g. one a network namespace reaches. */
  host?: string;
}

export interface FaultProxy {
  /** `http://HOST:PORT` (HOST 127.0.0.1 unless `host`): the endpoint for clients. */
  endpoint: string;
  port: number;
  /** Adds a rule; rules are tried in the order added, the first that applies wins. */
  addFault(rule: FaultRule): void;
  clearFaults(): void;
  /** Every request seen, in arrival order. */
  readonly requests: readonly RecordedRequest[];
  readonly counters: Readonly<FaultProxyCounters>;
  /** Forget recorded requests and zero the counters (rules stay). */
  resetRecords(): void;
  close(): Promise<void>;
}

const DEFAULT_CODES: Record<number, string> = {
  400: 'BadRequest',
  403: 'AccessDenied',
  404: 'NoSuchBucket',
  429: 'TooManyRequests',
  500: 'InternalError',
  501: 'NotImplemented',
  502: 'BadGateway',
  503: 'SlowDown',
  504: 'GatewayTimeout',
};

/** Headers that describe one hop, not the request: never forwarded. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'expect', 'te', 'trailer']);

/** Matchers for common S3 calls (path-style requests). */
export const s3Requests = {
  putObject: (r: RequestInfo): boolean => r.method === 'PUT' && r.path.split('/').length > 2,
  getObject: (r: RequestInfo): boolean => r.method === 'GET' && r.path.split('/').length > 2,
  deleteObject: (r: RequestInfo): boolean => r.method === 'DELETE' && r.path.split('/').length > 2,
  bucketLocation: (r: RequestInfo): boolean => r.method === 'GET' && r.query.has('location'),
  inBucket: (bucket: string) => (r: RequestInfo): boolean => r.path === `/${bucket}` || r.path.startsWith(`/${bucket}/`),
};

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const verifyMd5 = options.verifyContentMd5 ?? false;
  const host = options.host ?? '127.0.0.1';
  const random = mulberry32(options.seed ?? 1);
  const agent = new Agent({ keepAlive: true });
  const rules: Array<FaultRule & { used: number }> = [];
  let requests: RecordedRequest[] = [];
  const zero = (): FaultProxyCounters => ({
    requests: 0,
    forwarded: 0,
    injectedStatus: 0,
    delayed: 0,
    held: 0,
    droppedRequests: 0,
    droppedResponses: 0,
    lostResponses: 0,
    responded: 0,
    corrupted: 0,
    badDigest: 0,
  });
  let counters = zero();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const pickRule = (info: RequestInfo): FaultAction | undefined => {
    for (const rule of rules) {
      if (rule.times !== undefined && rule.used >= rule.times) continue;
      if (rule.match && !rule.match(info)) continue;
      if (rule.share !== undefined && random() >= rule.share) continue;
      rule.used++;
      return rule.action;
    }
    return undefined;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://proxy.invalid');
    const info: RequestInfo = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers };
    counters.requests++;
    const action = pickRule(info);
    const record: RecordedRequest = { ...info, bodyBytes: 0, bodyMd5: '', outcome: 'forwarded', status: undefined };
    requests.push(record);

    // the whole body first: needed for Content-MD5, and parts are at most 10 MiB
    const md5 = createHash('md5');
    const chunks: Buffer[] = [];
    const dropAt = action?.type === 'drop-request' ? (action.afterBytes ?? 0) : undefined;
    const received = await new Promise<'complete' | 'drop' | 'client-gone'>((resolve) => {
      if (dropAt === 0) return resolve('drop');
      req.on('data', (c: Buffer) => {
        chunks.push(c);
        md5.update(c);
        record.bodyBytes += c.length;
        if (dropAt !== undefined && record.bodyBytes >= dropAt) resolve('drop');
      });
      // a body shorter than `afterBytes` is dropped at its end
      req.on('end', () => resolve(dropAt === undefined ? 'complete' : 'drop'));
      req.on('error', () => resolve('client-gone'));
    });
    record.bodyMd5 = md5.digest('base64');
    if (received !== 'complete') {
      record.outcome = received === 'drop' ? 'dropped-request' : 'client-gone';
      if (received === 'drop') counters.droppedRequests++;
      req.socket.destroy();
      return;
    }
    const body = Buffer.concat(chunks);
    if (action?.type === 'corrupt-request' && body.length > 0) {
      body[body.length >> 1]! ^= 0x01;
      record.outcome = 'corrupted';
      counters.corrupted++;
      record.bodyMd5 = createHash('md5').update(body).digest('base64');
    }
    const sentMd5 = req.headers['content-md5'];
    if (verifyMd5 && typeof sentMd5 === 'string' && sentMd5 !== record.bodyMd5) {
      record.outcome = 'bad-digest';
      counters.badDigest++;
      sendError(res, record, 400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
      return;
    }
    if (action?.type === 'status') {
      record.outcome = 'status';
      counters.injectedStatus++;
      sendError(res, record, action.status, action.code ?? DEFAULT_CODES[action.status] ?? 'InjectedFault', 'injected by the fault proxy');
      return;
    }
    if (action?.type === 'respond') {
      record.outcome = 'responded';
      counters.responded++;
      record.status = action.status;
      res.writeHead(action.status, { 'content-type': 'application/xml', ...action.headers });
      res.end(info.method === 'HEAD' ? undefined : action.body);
      return;
    }
    if (action?.type === 'hold-request') {
      record.outcome = 'held';
      counters.held++;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          timers.delete(timer);
          resolve();
        }, action.ms);
        timers.add(timer);
      });
    }
    await forward(req, res, info, body, record, action);
  };

  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    info: RequestInfo,
    body: Buffer,
    record: RecordedRequest,
    action: FaultAction | undefined,
    again = false,
  ): Promise<void> =>
    new Promise<void>((resolve) => {
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined && !HOP_HEADERS.has(name)) headers[name] = value;
      }
      if (body.length > 0 || req.headers['content-length'] !== undefined) headers['content-length'] = String(body.length);
      const upstream = httpRequest(
        { host: target.hostname, port: target.port, method: info.method, path: req.url, headers, agent: again ? false : agent },
        (up) => {
          counters.forwarded++;
          if (action?.type === 'lose-response') {
            record.outcome = 'lost-response';
            counters.lostResponses++;
            // the upstream answer is read and thrown away; the client's connection dies unanswered
            up.resume();
            res.socket?.destroy();
            resolve();
            return;
          }
          const respond = (): void => {
            record.status = up.statusCode;
            const outHeaders: Record<string, string | string[]> = {};
            for (const [name, value] of Object.entries(up.headers)) {
              if (value !== undefined && !HOP_HEADERS.has(name)) outHeaders[name] = value;
            }
            res.writeHead(up.statusCode ?? 502, outHeaders);
            if (action?.type === 'drop-response') {
              record.outcome = 'dropped-response';
              counters.droppedResponses++;
              let sent = 0;
              let cutting = false;
              const cut = (): void => {
                up.destroy();
                res.socket?.destroy();
                resolve();
              };
              // the bytes before the cut are flushed (write callback) before the connection dies
              const cutAfter = (chunk: Buffer): void => {
                cutting = true;
                res.write(chunk, cut);
              };
              up.on('data', (c: Buffer) => {
                if (cutting) return;
                const n = Math.min(c.length, action.afterBytes - sent);
                sent += n;
                if (sent >= action.afterBytes) cutAfter(c.subarray(0, n));
                else res.write(c);
              });
              up.on('end', () => {
                if (!cutting) cut();
              });
              if (action.afterBytes === 0) {
                cutting = true;
                res.flushHeaders();
                setTimeout(cut, 20);
              }
              return;
            }
            up.pipe(res);
            up.on('end', () => resolve());
            up.on('error', () => {
              res.socket?.destroy();
              resolve();
            });
          };
          if (action?.type === 'delay') {
            record.outcome = 'delayed';
            counters.delayed++;
            const timer = setTimeout(() => {
              timers.delete(timer);
              respond();
            }, action.ms);
            timers.add(timer);
          } else {
            respond();
          }
        },
      );
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        // a kept-alive connection the server closed just as it was reused (Node's keep-alive race):
        // the request never reached the server, so it is sent again — a fault must hit the server
        if (!again && upstream.reusedSocket && err.code === 'ECONNRESET' && !res.headersSent) {
          void forward(req, res, info, body, record, action, true).then(resolve);
          return;
        }
        if (!res.headersSent) sendError(res, record, 502, 'BadGateway', 'the fault proxy could not reach the server');
        else res.socket?.destroy();
        resolve();
      });
      upstream.end(body);
    });

  const server = createServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    endpoint: `http://${host}:${port}`,
    port,
    addFault(rule) {
      if (rule.share !== undefined && !(rule.share >= 0 && rule.share <= 1)) throw new RangeError('share must be within 0..1');
      rules.push({ ...rule, used: 0 });
    },
    clearFaults() {
      rules.length = 0;
    },
    get requests() {
      return requests;
    },
    get counters() {
      return counters;
    },
    resetRecords() {
      requests = [];
      counters = zero();
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function sendError(res: ServerResponse, record: RecordedRequest, status: number, code: string, message: string): void {
  record.status = status;
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
  res.end(record.method === 'HEAD' ? undefined : xml);
}
