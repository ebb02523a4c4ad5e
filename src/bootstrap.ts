import { ConsoleLogger, INestApplication, Logger, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { Logger as PinoLogger } from 'nestjs-pino';
import { AppModule } from './app.module';
import helmet from 'helmet';
import { jsonBodyProblem } from './common/json-body';
import { dashboardMiddleware } from './common/web/dashboard';
import { StartupRollback } from './common/lifecycle/startup-rollback';
import { ApiDocsMode, AppConfig } from './config/config.loader';
import { HTTP_LOGGER } from './common/logging/logging.module';
import { DlsMetrics, httpMetricsMiddleware } from './modules/metrics';
import { ApiDocsAccess } from './modules/auth/api-docs-access';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/**
 * Nest logs an error thrown while it creates the app, with its stack, under the `ExceptionHandler` context; the
 * caller reports that error itself (main.ts: one line), so the stack is printed only at debug/verbose.
 */
class DlsLogger extends ConsoleLogger {
  error(message: unknown, ...rest: unknown[]): void {
    if (rest.at(-1) === 'ExceptionHandler' && !this.isLevelEnabled('debug')) return;
    super.error(message, ...rest);
  }
}

/**
 * Builds the Nest app (shared by main.ts and the e2e tests): security headers (helmet, no X-Powered-By), body
 * parsing, Swagger at /docs per DLS_API_DOCS, shutdown hooks.
 * If creating it fails, what was already started (the embedded PostgreSQL) is stopped before the error is rethrown.
 */
export async function createApp(config: AppConfig, opts: { logger?: false } = {}): Promise<NestExpressApplication> {
  const quiet = opts.logger === false;
  const rollback = new StartupRollback();
  const logger = new DlsLogger({ logLevels: LEVELS.slice(0, LEVELS.indexOf(config.logLevel) + 1) });
  let app: NestExpressApplication;
  try {
    app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, rollback, { quietLogs: quiet }), {
      logger: quiet ? false : logger,
      bufferLogs: !quiet, // start-up lines wait for pino, so every line is JSON
      bodyParser: false,
      abortOnError: false, // throw (with the reason) instead of process.exit on a wiring error
    });
  } catch (e) {
    await rollback.run((msg) => logger.error(msg));
    throw e;
  }
  if (!quiet) {
    app.useLogger(app.get(PinoLogger));
    app.flushLogs(); // now, not at the end of init: a start that fails later (listen) still shows what it did
  }
  app.disable('x-powered-by');
  app.use(
    helmet({
      // DLS speaks plain HTTP on the LAN (a TLS proxy in front sets its own HSTS): asking browsers to upgrade
      // requests, or to pin HTTPS for the host name, would break Swagger UI and the API there.
      contentSecurityPolicy: { directives: { 'upgrade-insecure-requests': null } },
      strictTransportSecurity: false,
    }),
  );
  // Same-origin only unless DLS_CORS_ORIGINS names the dashboard's origin(s); a preflight from any other origin gets
  // no Access-Control-Allow-* headers, so the browser refuses the call.
  if (config.corsOrigins.length) {
    app.enableCors({
      origin: [...config.corsOrigins],
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type', 'If-Match', 'Last-Event-ID', 'X-Request-Id'],
      exposedHeaders: ['ETag', 'Retry-After', 'X-Request-Id', 'Location'],
      maxAge: 600,
    });
  }
  app.use(app.get<typeof HTTP_LOGGER, RequestHandler>(HTTP_LOGGER));
  app.use(httpMetricsMiddleware(app.get(DlsMetrics)));
  // The web dashboard at / (dist/web); /api, /boot and /docs pass through untouched.
  app.use(dashboardMiddleware());
  app.useBodyParser('json', { limit: '2mb' });
  // Malformed JSON → a 400 in our error shape (body-parser errors never reach Nest's filters).
  app.use((err: Error & { status?: number; type?: string }, _req: Request, res: Response, next: NextFunction) => {
    if (err?.type === 'entity.parse.failed' || err?.type === 'entity.too.large' || err?.type === 'encoding.unsupported') {
      const statusCode = err.status ?? 400;
      res.status(statusCode).json({ statusCode, error: 'Bad Request', code: 'MALFORMED_BODY', message: `request body: ${err.message}` });
      return;
    }
    next(err);
  });
  // Bodies nested thousands deep, or with a `constructor` key at any depth, parse fine but crash class-transformer in
  // the validation pipe (a 500): refuse them here, before any handler or pipe sees them.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const problem = jsonBodyProblem(req.body);
    if (!problem) return next();
    res.status(400).json({ statusCode: 400, error: 'Bad Request', code: 'MALFORMED_BODY', message: `request body: ${problem}` });
  });
  app.set('trust proxy', false);
  app.enableShutdownHooks();
  setupSwagger(app, config.http.apiDocs);
  return app;
}

/** Swagger UI at /docs and the OpenAPI document at /docs-json (and -yaml): public, behind a DLS login, or absent. */
export function setupSwagger(app: INestApplication, mode: ApiDocsMode): void {
  if (mode === 'off') return;
  if (mode === 'auth') app.use(['/docs', '/docs-json', '/docs-yaml'], app.get(ApiDocsAccess).middleware());
  const doc = new DocumentBuilder()
    .setTitle('DLS — diskless boot server')
    .setDescription('Images, versions, clients, networks and boot sessions of a DLS host.')
    .setVersion('0.1.0')
    .addBearerAuth()
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, doc), { jsonDocumentUrl: 'docs-json' });
}

export function logStartup(config: AppConfig): void {
  const docs = { public: ' — Swagger UI at /docs', auth: ' — Swagger UI at /docs (DLS login)', off: '' }[config.http.apiDocs];
  new Logger('DLS').log(`listening on http://${config.http.host}:${config.http.port}${docs}`);
}
