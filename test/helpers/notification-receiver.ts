/*
 * A loopback HTTP server standing in for whoever receives bundlefarm's notifications — a CI system's
 * webhook endpoint, or the GitHub / GitLab commit status API under a base URL of its own. It records every
 * request as it arrived (method, path, headers, the raw body bytes) and answers 200, unless a test told a
 * path to fail its first N requests (500). Stopped when the test file ends.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after } from 'node:test';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** What the receiver answered. */
  status: number;
}

export interface NotificationReceiver {
  /** http://127.0.0.1:PORT */
  url: string;
  requests: ReceivedRequest[];
  /** Requests whose path starts with `prefix`. */
  to(prefix: string): ReceivedRequest[];
  /** The first `count` requests to paths starting with `prefix` are answered 500. */
  failFirst(prefix: string, count: number): void;
}

export async function startNotificationReceiver(): Promise<NotificationReceiver> {
  const requests: ReceivedRequest[] = [];
  const failures = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      let status = 200;
      for (const [prefix, left] of failures) {
        if (path.startsWith(prefix) && left > 0) {
          failures.set(prefix, left - 1);
          status = 500;
        }
      }
      requests.push({ method: req.method ?? '', path, headers: req.headers, body: Buffer.concat(chunks), status });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status === 200 ? '{"ok":true}' : '{"error":"try again"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    to: (prefix) => requests.filter((r) => r.path.startsWith(prefix)),
    failFirst: (prefix, count) => failures.set(prefix, count),
  };
}
