/*
 * The worker's own small HTTP server for Prometheus: `GET /metrics` (text exposition format of a
 * prom-client registry) and `GET /healthz` (the process answers: a liveness probe). Nothing else, no
 * authentication — it binds to the loopback unless configured otherwise (`metricsHost`).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export class MetricsServer {
  private constructor(
    private readonly server: Server,
    /** `http://HOST:PORT` (the port the system gave when 0 was asked for). */
    readonly url: string,
  ) {}

  /** Listens on `host:port`; rejects (e.g. EADDRINUSE) when it cannot. */
  static async start(registry: Registry, endpoint: { host: string; port: number }): Promise<MetricsServer> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      } else if (path === '/metrics') {
        registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
          (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err instanceof Error ? err.message : String(err)}\n`),
        );
      } else if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}\n');
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
      }
    });
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(endpoint.port, endpoint.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return new MetricsServer(server, `http://${host}:${address.port}`);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
