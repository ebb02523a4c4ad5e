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

/** For the TypeORM CLI when DATABASE_URL is set; `npm run migration:*` also handles the embedded database. */
export default new DataSource(dataSourceOptions(loadConfig().database.url ?? 'postgres://unset-use-npm-run-migration-scripts'));
