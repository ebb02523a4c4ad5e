import { promises as fs } from 'node:fs';
import { Client } from 'pg';
import type { EmbeddedPostgres } from '../../src/database/embedded-postgres';
import { stopZfsFuseStartedBy } from '../support/zfs-fuse';

/** Stops what the run started — its PostgreSQL (and its directories), a zfs-fuse daemon a helper started — by pid. */
export default async function globalTeardown(): Promise<void> {
  try {
    await stopDatabase();
  } finally {
    const zfs = await stopZfsFuseStartedBy(String(process.pid));
    if (/left running/.test(zfs)) console.warn(`global teardown: ${zfs}`);
  }
}

async function stopDatabase(): Promise<void> {
  const pg = (globalThis as Record<string, unknown>).__DLS_TEST_PG__ as EmbeddedPostgres | undefined;
  if (pg) {
    await pg.stop();
    await fs.rm(pg.baseDir, { recursive: true, force: true });
    await fs.rm(pg.clusterLocation, { recursive: true, force: true });
    return;
  }
  // External server (TEST_DATABASE_URL): drop this run's template.
  const c = new Client({ connectionString: process.env.DLS_TEST_ADMIN_URL });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS "${process.env.DLS_TEST_TEMPLATE_DB}" WITH (FORCE)`);
  } finally {
    await c.end();
  }
}
