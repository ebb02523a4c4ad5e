import { INestApplication, Logger, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { Logger as PinoLogger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { HTTP_LOGGER } from './common/logging/logging.module';
import { DlsMetrics, httpMetricsMiddleware } from './modules/metrics';
import { AppConfig } from './config/config.loader';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/** Builds the Nest app (shared by main.ts and the e2e tests): body parsing, Swagger at /docs, shutdown hooks. */
export async function createApp(config: AppConfig, opts: { logger?: false } = {}): Promise<NestExpressApplication> {
  const quiet = opts.logger === false;
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, { quietLogs: quiet }), {
    logger: quiet ? false : LEVELS.slice(0, LEVELS.indexOf(config.logLevel) + 1),
    bufferLogs: !quiet, // start-up lines wait for pino, so every line is JSON
    bodyParser: false,
    abortOnError: false, // throw (with the reason) instead of process.exit on a wiring error
  });
  if (!quiet) app.useLogger(app.get(PinoLogger));
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
  app.set('trust proxy', false);
  app.enableShutdownHooks();
  setupSwagger(app);
  return app;
}

export function setupSwagger(app: INestApplication): void {
  const doc = new DocumentBuilder()
    .setTitle('DLS — diskless boot server')
    .setDescription('Images, versions, clients, networks and boot sessions of a DLS host.')
    .setVersion('0.1.0')
    .addBearerAuth()
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, doc), { jsonDocumentUrl: 'docs-json' });
}

export function logStartup(config: AppConfig): void {
  new Logger('DLS').log(`listening on http://${config.http.host}:${config.http.port} — Swagger UI at /docs`);
}
