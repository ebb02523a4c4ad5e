import { Global, Injectable, Logger, Module, OnApplicationShutdown, Optional } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../ormconfig';
import { StartupRollback } from '../common/lifecycle/startup-rollback';
import { AppConfig } from '../config/config.loader';
import { resolveDatabase } from './database-url';
import { EmbeddedPostgres } from './embedded-postgres';
import { pendingMigrations, runMigrationsLocked } from './migrator';

/** Owns the embedded PostgreSQL (when DATABASE_URL is unset) and stops it after everything else has shut down. */
@Injectable()
export class DatabaseLifecycle implements OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  embedded?: EmbeddedPostgres;

  constructor(
    private readonly config: AppConfig,
    @Optional() private readonly rollback?: StartupRollback,
  ) {}

  async url(): Promise<string> {
    const r = await resolveDatabase(this.config, (m) => this.logger.log(m));
    this.embedded = r.embedded;
    // Started while the app is being created: if a later provider fails, no shutdown hook will stop it.
    if (r.embedded) this.rollback?.add('embedded PostgreSQL', () => this.onApplicationShutdown());
    return r.url;
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.embedded) {
      await this.embedded.stop();
      this.logger.log('embedded PostgreSQL stopped');
    }
  }
}

const MIGRATIONS_RUN = Symbol('dls:migrationsRun');

@Global()
@Module({ providers: [DatabaseLifecycle], exports: [DatabaseLifecycle] })
class DatabaseLifecycleModule {}

/**
 * TypeORM over the one DataSource definition (ormconfig.ts). Pending migrations run at start under an advisory lock,
 * or — with DLS_MIGRATIONS_RUN=false — the app refuses to start while any is pending.
 */
@Module({
  imports: [
    DatabaseLifecycleModule,
    TypeOrmModule.forRootAsync({
      inject: [DatabaseLifecycle, AppConfig],
      useFactory: async (db: DatabaseLifecycle, config: AppConfig) => ({
        ...dataSourceOptions(await db.url()),
        [MIGRATIONS_RUN]: config.database.migrationsRun,
      }),
      dataSourceFactory: async (options) => {
        const logger = new Logger('Database');
        const ds = await new DataSource(options!).initialize();
        if ((options as unknown as Record<symbol, unknown>)[MIGRATIONS_RUN]) {
          const ran = await runMigrationsLocked(ds);
          if (ran.length) logger.log(`ran migrations: ${ran.join(', ')}`);
        } else {
          const pending = await pendingMigrations(ds);
          if (pending.length) {
            await ds.destroy();
            throw new Error(
              `refusing to start: ${pending.length} pending migration(s) (${pending.join(', ')}); run \`npm run migration:run\` or set DLS_MIGRATIONS_RUN=true`,
            );
          }
        }
        return ds;
      },
    }),
  ],
})
export class DatabaseModule {}
