import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

function withDb(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/**
 * A fresh, migrated database for one test file, cloned from the template the global setup migrated.
 * Call `drop()` in afterAll.
 */
export async function createTestDatabase(): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const adminUrl = process.env.DLS_TEST_ADMIN_URL;
  if (!adminUrl) throw new Error('DLS_TEST_ADMIN_URL unset: run e2e tests through jest (global setup)');
  const name = `dls_t_${process.env.JEST_WORKER_ID ?? '0'}_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${process.env.DLS_TEST_TEMPLATE_DB}"`);
  } finally {
    await admin.end();
  }
  return {
    url: withDb(adminUrl, name),
    name,
    drop: async () => {
      const c = new Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
