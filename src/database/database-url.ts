import * as path from 'node:path';
import { AppConfig } from '../config/config.loader';
import { EmbeddedPostgres } from './embedded-postgres';

/** Resolves the database to use: `DATABASE_URL`, or the embedded server under `<data dir>/postgres` (started or adopted). */
export async function resolveDatabase(
  config: AppConfig,
  log: (m: string) => void = () => undefined,
): Promise<{ url: string; embedded?: EmbeddedPostgres }> {
  if (config.database.url) return { url: config.database.url };
  const embedded = new EmbeddedPostgres({ baseDir: path.join(config.dataDir, 'postgres'), ownedRoot: config.dataDir, log });
  try {
    return { url: await embedded.start('dls'), embedded };
  } catch (e) {
    await embedded.stop(); // a start that failed half-way (server up, database not created) leaves nothing running
    throw e;
  }
}
