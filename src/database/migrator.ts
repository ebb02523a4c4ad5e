import { DataSource } from 'typeorm';

/** Advisory-lock key shared by every DLS instance (and the CLI) so only one runs migrations at a time. */
const MIGRATION_LOCK_KEY = 0x444c53; // "DLS"

/**
 * Runs pending migrations, each in its own transaction, while holding a PostgreSQL advisory lock on a
 * dedicated connection. Returns the names of the migrations that ran.
 */
export async function runMigrationsLocked(ds: DataSource): Promise<string[]> {
  const qr = ds.createQueryRunner();
  await qr.connect();
  try {
    await qr.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const ran = await ds.runMigrations({ transaction: 'each' });
    return ran.map((m) => m.name);
  } finally {
    await qr.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await qr.release();
  }
}

/** Names of migrations that exist in code but have not run against this database. */
export async function pendingMigrations(ds: DataSource): Promise<string[]> {
  const applied = new Set<string>();
  const hasTable: { present: boolean }[] = await ds.query(`SELECT to_regclass('public.migrations') IS NOT NULL AS present`);
  if (hasTable[0]?.present) {
    const rows: { name: string }[] = await ds.query('SELECT name FROM migrations');
    for (const r of rows) applied.add(r.name);
  }
  return ds.migrations.map((m) => m.name ?? m.constructor.name).filter((n) => !applied.has(n));
}

/** The SQL TypeORM would run to make the schema match the entities (empty = no drift). */
export async function schemaDrift(ds: DataSource): Promise<{ up: string[]; down: string[] }> {
  const sql = await ds.driver.createSchemaBuilder().log();
  return { up: sql.upQueries.map((q) => q.query), down: sql.downQueries.map((q) => q.query) };
}
