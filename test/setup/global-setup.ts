import 'reflect-metadata';
// Jest loads global setup outside its module mapper: resolve the sources' path aliases (@common/…) here too.
import 'tsconfig-paths/register';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../ormconfig';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres';
import { runMigrationsLocked } from '../../src/database/migrator';

/**
 * Starts one PostgreSQL for the whole e2e run (the embedded one, or TEST_DATABASE_URL's server) and migrates a
 * template database once. Each test file then clones its own database from the template (test/support/database.ts).
 */
export default async function globalSetup(): Promise<void> {
  // Workers inherit it: helpers record what this run started (test/support/zfs-fuse.ts), the teardown stops it.
  process.env.DLS_TEST_RUN_ID = String(process.pid);
  let adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    // A server of its own per run, so concurrent runs on one machine never share (or stop) each other's.
    const pg = new EmbeddedPostgres({ baseDir: path.join(os.tmpdir(), `dls-test-postgres-${process.pid}`) });
    adminUrl = await pg.start('postgres');
    (globalThis as Record<string, unknown>).__DLS_TEST_PG__ = pg;
  }
  const template = `dls_template_${process.pid}`;
  const templateUrl = withDb(adminUrl, template);
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${template}"`);
  } finally {
    await admin.end();
  }
  const ds = await new DataSource(dataSourceOptions(templateUrl)).initialize();
  try {
    await runMigrationsLocked(ds);
  } finally {
    await ds.destroy();
  }
  process.env.DLS_TEST_ADMIN_URL = adminUrl;
  process.env.DLS_TEST_TEMPLATE_DB = template;
}

export function withDb(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}
