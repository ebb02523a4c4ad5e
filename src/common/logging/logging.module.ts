import { DynamicModule, Module } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoggerModule } from 'nestjs-pino';
import { type Level, pino } from 'pino';
import { pinoHttp } from 'pino-http';
import type { LogLevel } from '@config/config.loader';

/** An incoming `X-Request-Id` is taken as is when it is this short and plain; otherwise a fresh UUID is used. */
export const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
export const REQUEST_ID_HEADER = 'X-Request-Id';

const PINO_LEVEL: Record<LogLevel, Level> = { error: 'error', warn: 'warn', log: 'info', debug: 'debug', verbose: 'trace' };

/** The request id of `req`: its sane `X-Request-Id`, else a new UUID; echoed in the response header. */
export function requestId(req: IncomingMessage, res: ServerResponse): string {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  res.setHeader(REQUEST_ID_HEADER, id);
  return id;
}

/** The URL as logged: the query's boot token (`t=`) and any `ticket=` masked. */
export function loggedUrl(url: string | undefined): string {
  return (url ?? '').replace(/([?&](?:t|ticket|token)=)[^&]*/g, '$1***');
}

/** Whether a pretty printer can be loaded (pino-pretty is a dev dependency; production installs log JSON). */
function prettyAvailable(): boolean {
  try {
    require.resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/** Injection token of the HTTP access-log middleware (pino-http), mounted by `createApp` with `app.use()`. */
export const HTTP_LOGGER = Symbol('HTTP_LOGGER');

/**
 * Logging through pino (nestjs-pino replaces Nest's logger, so every `new Logger(Class.name)` keeps working): one
 * JSON object per line with `level`, `time`, `context`, `msg` and any fields a line carries (MAC, xid, client id,
 * session id on boot-plane lines); one access-log line per HTTP request with its request id (`req.id`, also the
 * `X-Request-Id` response header). Pretty, coloured lines only when stdout is a terminal — never in a file or pipe.
 * `quiet`: nothing at all (tests).
 *
 * The access log is a plain Express middleware ({@link HTTP_LOGGER}) rather than nestjs-pino's own: Nest would
 * mount that as a catch-all route per HTTP method, which the route inventory rightly counts as routes outside a
 * controller.
 */
@Module({})
export class DlsLoggingModule {
  static forRoot(level: LogLevel, opts: { quiet?: boolean; tty?: boolean } = {}): DynamicModule {
    const pretty = !opts.quiet && (opts.tty ?? process.stdout.isTTY === true) && prettyAvailable();
    const root = pino({
      level: opts.quiet ? 'silent' : PINO_LEVEL[level],
      ...(pretty ? { transport: { target: 'pino-pretty', options: { singleLine: true, translateTime: 'SYS:standard' } } } : {}),
    });
    const http = pinoHttp({
      logger: root,
      genReqId: requestId,
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
      customSuccessMessage: (req, res, ms) => `${req.method} ${loggedUrl(req.url)} ${res.statusCode} ${Math.round(ms)} ms`,
      customErrorMessage: (req, res) => `${req.method} ${loggedUrl(req.url)} ${res.statusCode}`,
      serializers: {
        req: (req: { id: unknown; method: string; url: string; remoteAddress?: string }) => ({
          id: req.id,
          method: req.method,
          url: loggedUrl(req.url),
          remoteAddress: req.remoteAddress,
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    });
    return {
      module: DlsLoggingModule,
      global: true,
      imports: [LoggerModule.forRoot({ pinoHttp: { logger: root }, useExisting: true, forRoutes: [] })],
      providers: [{ provide: HTTP_LOGGER, useValue: http }],
      exports: [HTTP_LOGGER],
    };
  }
}
