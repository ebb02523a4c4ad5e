import 'reflect-metadata';
import { createApp, logStartup } from './bootstrap';
import { ConfigValidationError, loadConfig } from './config/config.loader';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigValidationError) {
      console.error(e.message);
      process.exit(2);
    }
    throw e;
  }
  const app = await createApp(config);
  await app.listen(config.http.port, config.http.host);
  logStartup(config);
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
