import * as path from 'node:path';
import { AppConfig } from '../config/config.loader';
import { EmbeddedPostgres } from './embedded-postgres';

/** Resolves the database to use: `DATABASE_URL`, or the embedded server under `<data dir>/postgres` (started or adopted). */
export async function resolveDatabase(
  config: AppConfig,
  log: (m: string) => void = () => undefined,
): Promise<{ url: string; embedded?: EmbeddedPostgres }> {
  if (config.database.url) return { url: config.database.url };
  const embedded = new EmbeddedPostgres({ baseDir: path.join(config.dataDir, 'postgres'), log });
  const url = await embedded.start('dls');
  return { url, embedded };
}
