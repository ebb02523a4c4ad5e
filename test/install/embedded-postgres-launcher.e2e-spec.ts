/**
 * The embedded PostgreSQL launcher (src/database/embedded-postgres.ts) run directly, as root, on directories the
 * server user (`dls-postgres`) can and cannot reach. The fallback root is this test's own directory, so nothing is
 * made under /var/lib/dls.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { CLUSTER_POINTER, EmbeddedPostgres } from '../../src/database/embedded-postgres';
import { postmasterPid } from '../support/leftovers';

const asRoot = process.getuid?.() === 0 ? describe : describe.skip;

async function query(url: string): Promise<number> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<{ n: number }>('SELECT 1 AS n')).rows[0].n;
  } finally {
    await c.end();
  }
}

asRoot('embedded PostgreSQL launcher, as root', () => {
  let work: string;
  const started: EmbeddedPostgres[] = [];

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'dls-pg-launcher-'));
    chmodSync(work, 0o711); // the fallback root and the open data dirs live here; `closed` below is the 0700 one
  });

  afterAll(async () => {
    for (const pg of started) await pg.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('a data dir under a closed directory: cluster in the fallback root, named by a pointer; a new data dir at the same path gets a new cluster', async () => {
    const closed = join(work, 'closed');
    mkdirSync(closed, { mode: 0o700 });
    const fallbackRoot = join(work, 'fallback');
    const dataDir = join(closed, 'data');
    const make = () => new EmbeddedPostgres({ baseDir: join(dataDir, 'postgres'), ownedRoot: dataDir, fallbackRoot });

    const first = make();
    started.push(first);
    expect(await query(await first.start('dls'))).toBe(1);
    const cluster = first.clusterLocation;
    expect(cluster.startsWith(`${fallbackRoot}/postgres-`)).toBe(true);
    expect(readFileSync(join(dataDir, 'postgres', CLUSTER_POINTER), 'utf8').trim()).toBe(cluster);
    expect(readFileSync(join(cluster, 'data-dir'), 'utf8').trim()).toBe(join(dataDir, 'postgres'));
    await first.stop();
    expect(postmasterPid(cluster)).toBeUndefined();

    // The data dir goes (and with it the password); DLS starts again at the same path.
    rmSync(dataDir, { recursive: true, force: true });
    const second = make();
    started.push(second);
    expect(await query(await second.start('dls'))).toBe(1);
    expect(second.clusterLocation).toBe(cluster);
    await second.stop();
  });

  it('a data dir made under umask 027 (0750 root:root) is opened to dls-postgres only: group dls-postgres, --x', async () => {
    const dataDir = join(work, 'umask027');
    mkdirSync(dataDir, { mode: 0o750 });
    chmodSync(dataDir, 0o750);
    const pg = new EmbeddedPostgres({ baseDir: join(dataDir, 'postgres'), ownedRoot: dataDir, fallbackRoot: join(work, 'fallback') });
    started.push(pg);
    expect(await query(await pg.start('dls'))).toBe(1);
    expect(pg.clusterLocation).toBe(join(dataDir, 'postgres'));
    const pgGid = Number(execFileSync('id', ['-g', 'dls-postgres']).toString().trim());
    const st = statSync(dataDir);
    expect({ mode: (st.mode & 0o777).toString(8), gid: st.gid }).toEqual({ mode: '710', gid: pgGid });
    expect(existsSync(join(dataDir, 'postgres', CLUSTER_POINTER))).toBe(false);
    await pg.stop();
  });

  it('a missing credentials file next to an existing cluster is refused with the way out, not a login failure', async () => {
    const dataDir = join(work, 'lost-credentials');
    const make = () => new EmbeddedPostgres({ baseDir: join(dataDir, 'postgres'), ownedRoot: dataDir, fallbackRoot: join(work, 'fallback') });
    const pg = make();
    started.push(pg);
    await pg.start('dls');
    await pg.stop();
    rmSync(join(dataDir, 'postgres', 'credentials.json'));
    await expect(make().start('dls')).rejects.toThrow(/credentials\.json is missing but .* holds a cluster: restore the file, or remove/);
  });
});
