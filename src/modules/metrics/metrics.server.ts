import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppConfig } from '@config/config.loader';
import { DlsMetrics } from './dls-metrics';

/**
 * The Prometheus listener (`DLS_METRICS_ADDRESS`, default 127.0.0.1:9464): `GET /metrics` and nothing else, on a
 * port of its own rather than the API's. No login — Prometheus scrapes without one and a token in a scrape config is
 * one more secret to rotate — so it binds loopback by default; an operator who puts it on a management network
 * chooses who can reach it with that address and the firewall. Being off the API port also keeps it out of the
 * OpenAPI document, the auth guard and the access log. A failed bind is logged and leaves the rest of DLS running.
 */
@Injectable()
export class MetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Metrics');
  private server: Server | null = null;
  /** Where it listens once started (tests use port 0). */
  bound?: { address: string; port: number };

  constructor(
    private readonly config: AppConfig,
    private readonly metrics: DlsMetrics,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const at = this.config.metrics;
    if (!at) return;
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 65_000; // longer than Prometheus' idle timeout, so scrapes reuse the connection
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(at.port, at.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      this.logger.error(`cannot listen on ${at.host}:${at.port} for /metrics: ${(err as Error).message}`);
      return;
    }
    this.server = server;
    const a = server.address() as AddressInfo;
    this.bound = { address: a.address, port: a.port };
    this.logger.log(`Prometheus metrics on http://${a.address}:${a.port}/metrics`);
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found: try /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    try {
      const body = await this.metrics.text();
      res.writeHead(200, { 'Content-Type': this.metrics.registry.contentType, 'Cache-Control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (err) {
      this.logger.error(`scrape failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('scrape failed (see the DLS log)\n');
    }
  }
}
