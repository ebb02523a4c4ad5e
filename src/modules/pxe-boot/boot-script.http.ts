import { Injectable, Logger, OnApplicationBootstrap, Optional } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { DlsMetrics } from '../metrics';
import { BootScriptService, ScriptRequester, ScriptResponse } from './boot-script.service';
import { BootFileAnswer, BootFilesService } from './boot-files/boot-files.service';

/** `/boot/<mac>.ipxe` (Express's `:mac.ipxe`: the parameter is everything before the last `.ipxe`, no `/`). */
const BY_MAC = /^\/boot\/([^/]+)\.ipxe$/;
const BY_QUERY = '/boot/script.ipxe';
/** `/boot/files/<path>`: the boot files root over HTTP (UEFI HTTP boot loaders). */
const FILES_PREFIX = '/boot/files/';

/**
 * The two iPXE script routes (`GET|HEAD /boot/<mac>.ipxe`, `/boot/script.ipxe?mac=`) served straight from node:http,
 * in front of Express: a boot storm is thousands of these a second, and Nest + Express (router, helmet, request
 * logger, interceptors, pipes) cost several times what the answer itself costs from memory (measured in
 * `bench/script.bench.ts`). Same service, same answers, same headers as {@link BootScriptController} — which stays:
 * it documents the routes in Swagger and serves them where this is not installed. Every other request, and the
 * other `/boot` routes (failure report, initrd fragment), go to Express untouched.
 *
 * Error semantics are the global ones: a bad MAC or a malformed URL is a 400 (the unknown-client script), and the
 * service never throws; should anything else fail, the answer is a bare 500 with a correlation id in the log, as the
 * global filter does. No per-request log line (the request logger would write one per request of a storm); the
 * requests are counted in `dls_boot_script_requests_total` and timed in `dls_http_request_duration_seconds`.
 */
@Injectable()
export class BootScriptFastPath implements OnApplicationBootstrap {
  private readonly logger = new Logger('BootScriptController');

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly scripts: BootScriptService,
    @Optional() private readonly metrics?: DlsMetrics,
    @Optional() private readonly files?: BootFilesService,
  ) {}

  onApplicationBootstrap(): void {
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (!server) return;
    const behind = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (this.handle(req, res)) return;
      for (const l of behind) l.call(server, req, res);
    });
  }

  /** Serves `req` when it is a script route; false: not ours, hand it on. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const url = req.url ?? '';
    if (!url.startsWith('/boot/')) return false;
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path.startsWith(FILES_PREFIX) && this.files) {
      this.serveFile(req, res, path.slice(FILES_PREFIX.length));
      return true;
    }
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    let mac: string | undefined;
    let route: string;
    if (path === BY_QUERY) {
      route = '/boot/script.ipxe';
      const given = single(query, 'mac');
      mac = typeof given === 'string' ? given : undefined;
    } else {
      const m = BY_MAC.exec(path);
      if (!m) return false;
      route = '/boot/:mac.ipxe';
      try {
        mac = decodeURIComponent(m[1]);
      } catch {
        mac = undefined; // a malformed %-escape is no MAC: 400, the unknown-client script
      }
    }
    const started = performance.now();
    const who = requester(req);
    const token = single(query, 't');
    const now = this.scripts.scriptNow(mac, who, token);
    if (now) {
      this.send(req, res, route, started, now);
      return true;
    }
    this.scripts.scriptFor(mac, who, token).then(
      (r) => this.send(req, res, route, started, r),
      (err: unknown) => {
        const correlationId = randomUUID();
        this.logger.error(
          `GET ${route} failed (correlation id ${correlationId}): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        );
        this.send(req, res, route, started, { status: 500, body: `DLS: internal error (correlation id ${correlationId})\n` });
      },
    );
    return true;
  }

  /** `GET|HEAD /boot/files/<path>`: a boot file, or a one-line refusal (same statuses as the Express route). */
  private serveFile(req: IncomingMessage, res: ServerResponse, rawPath: string): void {
    const files = this.files!;
    const started = performance.now();
    const who = requester(req);
    let file: string;
    try {
      file = decodeURIComponent(rawPath);
    } catch {
      file = '';
    }
    const route = '/boot/files/*path';
    const opened: Promise<BootFileAnswer> = file ? files.open(file, who) : Promise.resolve({ status: 400, message: 'no file name' });
    opened.then(
      (a) => {
        this.metrics?.httpDuration.observe({ method: req.method ?? 'GET', route, status: String(a.status) }, (performance.now() - started) / 1000);
        if (a.status !== 200) {
          const body = `DLS: ${a.message}\n`;
          const headers: Record<string, string | number> = {
            'Content-Type': 'text/plain; charset=utf-8',
            'Content-Length': Buffer.byteLength(body),
            'Cache-Control': 'no-store',
            'X-Content-Type-Options': 'nosniff',
          };
          if (a.retryAfter !== undefined) headers['Retry-After'] = String(a.retryAfter);
          res.writeHead(a.status, headers);
          res.end(req.method === 'HEAD' ? undefined : body);
          return;
        }
        res.writeHead(200, {
          'Content-Type': a.contentType,
          'Content-Length': a.size,
          'Cache-Control': 'no-store',
          'X-Content-Type-Options': 'nosniff',
        });
        if (req.method === 'HEAD') {
          res.end();
          return;
        }
        res.once('close', () => files.served(a, who, res.writableFinished, performance.now() - started));
        const body = files.body(a);
        if (Buffer.isBuffer(body)) res.end(body);
        else {
          body.once('error', () => res.destroy());
          body.pipe(res);
        }
      },
      (err: unknown) => {
        const correlationId = randomUUID();
        this.logger.error(
          `GET ${route} failed (correlation id ${correlationId}): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        );
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(`DLS: internal error (correlation id ${correlationId})\n`);
      },
    );
  }

  private send(req: IncomingMessage, res: ServerResponse, route: string, started: number, r: ScriptResponse): void {
    // A string body goes out in one write with the headers (a Buffer makes node:http write both with writev).
    const headers: Record<string, string | number> = {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(r.body, 'utf8'),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    };
    if (r.retryAfter !== undefined) headers['Retry-After'] = String(r.retryAfter);
    res.writeHead(r.status, headers);
    res.end(req.method === 'HEAD' ? undefined : r.body, 'utf8');
    this.metrics?.httpDuration.observe({ method: req.method ?? 'GET', route, status: String(r.status) }, (performance.now() - started) / 1000);
  }
}

/** One query value as Express's parser gives it: the string, undefined when absent, an array when repeated. */
function single(query: URLSearchParams, name: string): string | string[] | undefined {
  const all = query.getAll(name);
  return all.length === 0 ? undefined : all.length === 1 ? all[0] : all;
}

function requester(req: IncomingMessage): ScriptRequester {
  const strip = (a: string | undefined): string => (a ?? '').replace(/^::ffff:/, '');
  return { sourceIp: strip(req.socket.remoteAddress), serverIp: strip(req.socket.localAddress) };
}
