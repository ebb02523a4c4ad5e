import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { createApp, logStartup } from './bootstrap';
import { AppConfig, ConfigValidationError, loadConfig } from './config/config.loader';

/**
 * Starts DLS. A start that fails stops what it already started (embedded PostgreSQL, tgtd, sockets: `createApp`
 * rolls back a failed creation, `app.close()` runs every shutdown hook after a failed init or listen) and exits
 * non-zero with one line saying why; the stack trace only at LOG_LEVEL=debug or verbose.
 */
async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (e) {
    if (!(e instanceof ConfigValidationError)) throw e;
    console.error(`dls: invalid configuration: ${e.problems.join('; ')}`);
    process.exit(2);
  }
  let app: INestApplication | undefined;
  try {
    app = await createApp(config);
    await app.listen(config.http.port, config.http.host);
  } catch (e) {
    await app?.close().catch((closeError: unknown) => console.error(`dls: while stopping: ${describe(closeError)}`));
    console.error(`dls: failed to start: ${describe(e)}`);
    if (config.logLevel === 'debug' || config.logLevel === 'verbose') console.error(e);
    process.exit(1);
  }
  logStartup(config);
}

function describe(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' ');
}

main().catch((e: unknown) => {
  console.error(`dls: ${describe(e)}`);
  process.exit(1);
});
