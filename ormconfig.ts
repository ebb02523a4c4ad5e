import 'reflect-metadata';
import { DataSource, DataSourceOptions } from 'typeorm';
import { loadConfig } from './src/config/config.loader';
import { ENTITIES } from './src/database/entities';
import { MIGRATIONS } from './src/database/migrations';

/**
 * The one TypeORM configuration, used by the Nest app (`DatabaseModule`), by `scripts/db.ts`
 * (migration:run|revert|generate|check) and by the tests. Never `synchronize`.
 */
export function dataSourceOptions(url: string, extra: Partial<DataSourceOptions> = {}): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    migrationsRun: false,
    // Off: TypeORM's error logging prints query parameters (password hashes); the global filter logs failures.
    logging: false,
    extra: { max: 20, connectionTimeoutMillis: 10_000 },
    ...extra,
  } as DataSourceOptions;
}

/**
 * For the TypeORM CLI when DATABASE_URL is set; `npm run migration:*` also handles the embedded database.
 * Importing this file must never throw (the app imports it too, and main.ts reports a bad configuration in one line):
 * an invalid environment leaves the CLI with a URL that says where to go instead.
 */
export default new DataSource(dataSourceOptions(cliDatabaseUrl()));

function cliDatabaseUrl(): string {
  const instead = 'postgres://unset-use-npm-run-migration-scripts';
  try {
    return loadConfig().database.url ?? instead;
  } catch {
    return instead;
  }
}
