import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../ormconfig';
import { pendingMigrations, runMigrationsLocked, schemaDrift } from '../../src/database/migrator';

function withDb(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

describe('migrations (e2e)', () => {
  const name = `dls_mig_${process.pid}`;
  const adminUrl = process.env.DLS_TEST_ADMIN_URL!;
  let ds: DataSource;

  beforeAll(async () => {
    const c = new Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(`CREATE DATABASE "${name}"`);
    await c.end();
    ds = await new DataSource(dataSourceOptions(withDb(adminUrl, name))).initialize();
  });

  afterAll(async () => {
    await ds?.destroy();
    const c = new Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await c.end();
  });

  const tables = async () =>
    (await ds.query<{ tablename: string }[]>(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).map((r) => r.tablename);

  it('runs up, down to nothing, and up again with no drift', async () => {
    expect(await pendingMigrations(ds)).toHaveLength(ds.migrations.length);
    await runMigrationsLocked(ds);
    expect(await pendingMigrations(ds)).toEqual([]);
    expect(await tables()).toEqual(
      expect.arrayContaining(['images', 'clients', 'boot_sessions', 'image_snapshots', 'network_ranges', 'users', 'audit_log']),
    );
    expect((await schemaDrift(ds)).up).toEqual([]);

    for (let i = 0; i < ds.migrations.length; i++) await ds.undoLastMigration({ transaction: 'each' });
    expect(await tables()).toEqual(['migrations']);

    await runMigrationsLocked(ds);
    expect((await schemaDrift(ds)).up).toEqual([]);
  });

  it('keeps the seed schema contract: checks, defaults, cascades and the updated_at trigger', async () => {
    const [img] = await ds.query(`INSERT INTO images (name, size_bytes, format, path) VALUES ('t', 1, 'raw', '/x') RETURNING id, updated_at`);
    await expect(ds.query(`INSERT INTO images (name, size_bytes, format, path) VALUES ('u', 0, 'raw', '/x')`)).rejects.toThrow(
      /images_size_bytes_check/,
    );
    await expect(ds.query(`INSERT INTO images (name, size_bytes, format, path) VALUES ('v', 1, 'iso', '/x')`)).rejects.toThrow(/images_format_check/);
    const [cl] = await ds.query(`INSERT INTO clients (mac_address, hostname, assigned_image_id) VALUES ('52:54:00:00:00:01', 'pc', $1) RETURNING *`, [
      img.id,
    ]);
    expect(cl.boot_mode).toBe('pxe');
    expect(cl.cpu_cores).toBe(2);
    expect(cl.memory_mb).toBe(2048);
    expect(cl.boot_count).toBe('0');
    await ds.query(`INSERT INTO boot_sessions (client_id, image_id) VALUES ($1, $2)`, [cl.id, img.id]);
    await new Promise((r) => setTimeout(r, 5));
    await ds.query(`UPDATE images SET description = 'changed' WHERE id = $1`, [img.id]);
    const [after] = await ds.query(`SELECT updated_at FROM images WHERE id = $1`, [img.id]);
    expect(new Date(after.updated_at).getTime()).toBeGreaterThan(new Date(img.updated_at).getTime());
    // Row versions (AddRowVersions, AddWakeScheduleVersion) were added beside the original columns: NOT NULL, existing rows at 1.
    const versions = await ds.query<{ table_name: string; is_nullable: string; column_default: string }[]>(
      `SELECT table_name, is_nullable, column_default FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'version' ORDER BY 1`,
    );
    expect(versions).toEqual(
      ['boot_sessions', 'client_groups', 'clients', 'images', 'network_ranges', 'signed_loader_files', 'users', 'wake_schedules'].map(
        (table_name) => ({
          table_name,
          is_nullable: 'NO',
          column_default: '1',
        }),
      ),
    );
    expect(cl.version).toBe(1);
    // images → clients: SET NULL; images → boot_sessions: CASCADE
    await ds.query(`DELETE FROM images WHERE id = $1`, [img.id]);
    const [cl2] = await ds.query(`SELECT assigned_image_id FROM clients WHERE id = $1`, [cl.id]);
    expect(cl2.assigned_image_id).toBeNull();
    expect(await ds.query(`SELECT 1 FROM boot_sessions WHERE client_id = $1`, [cl.id])).toHaveLength(0);
  });
});
