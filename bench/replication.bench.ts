/**
 * bench:replication — how fast a new image version reaches a second node, against the bare tools in the same run.
 *
 * Two DLS nodes (this process; one embedded PostgreSQL; each its own storage; APIs on loopback) per driver:
 * - **full**: an image of SIZE MiB of random data (incompressible) is uploaded to A and made a version; the time from
 *   the version's creation to B's copy being verified (the background hash on A, B's pull over HTTP, B's check).
 * - **incremental**: a maintenance client on A changes 1 % of the disk (scattered 64 KiB writes) and commits; the same
 *   time for that version (zfs: `zfs send -i` from the version both hold; dir: the whole file again).
 * Reference, same bytes, same disk: zfs — `zfs send [-i] | zfs receive` into a third root plus `sha256sum` of the
 * received file (the work DLS does without its HTTP hop and bookkeeping); dir — `cp --sparse=always` plus `sha256sum`
 * of the copy. Prints MB/s (of the version's size) and the ratio DLS/reference per run, and medians.
 *
 * Usage: npm run bench:replication [SIZE_MiB=256] [RUNS=3] [drivers=dir,zfs]
 */
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { DataSource } from 'typeorm';
import { createApp } from '../src/bootstrap';
import { loadConfig } from '../src/config/config.loader';
import { createTestPool, destroyTestPool, ensureZfsFuse, releaseZfsFuse, TestPool } from '../test/support/zfs-fuse';
import { freePort } from '../test/support/free-port';

const run = promisify(execFile);
const SIZE_MIB = Number(process.argv[2] ?? 256);
const RUNS = Number(process.argv[3] ?? 3);
const DRIVERS = (process.argv[4] ?? 'dir,zfs').split(',') as ('dir' | 'zfs')[];
const MiB = 1024 * 1024;
const ADMIN = { username: 'admin', password: 'bench-admin-password' };

type App = Awaited<ReturnType<typeof createApp>>;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function sh(cmd: string): Promise<string> {
  return (await run('sh', ['-c', cmd], { maxBuffer: 16 * MiB })).stdout;
}

/** One node: its own data dir and storage, its API on a loopback port the other node reaches. */
async function node(
  name: string,
  dataDir: string,
  driver: 'dir' | 'zfs',
  pool: TestPool | null,
  databaseUrl?: string,
): Promise<{ app: App; base: string }> {
  const port = await freePort();
  const env: Record<string, string> = {
    // Each node its own data dir and API port on loopback (two installs on one host), and the first admin's password
    // chosen, as a user does to log in without reading the printed one.
    DLS_DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: String(port),
    DLS_ADMIN_USER: ADMIN.username,
    DLS_ADMIN_PASSWORD: ADMIN.password,
    LOG_LEVEL: 'error',
    // Two nodes of one site on this host: each its own name, reached at loopback (DLS_NODE_ADDRESS, as a site names
    // its management network). API-only: nothing binds on the host's interfaces; free space is not the subject.
    DLS_NODE_NAME: name,
    DLS_NODE_ADDRESS: '127.0.0.1',
    DLS_DHCP_ENABLED: 'false',
    DLS_TFTP_ENABLED: 'false',
    DLS_ISCSI_ENABLED: 'false',
    DLS_IPV6_RA: 'false',
    DLS_STORAGE_MIN_FREE: '0',
    DLS_METRICS_ADDRESS: 'off',
    // The storage driver under measurement (dir or zfs), as a user picks one.
    DLS_STORAGE_DRIVER: driver,
    // One login key for both nodes: on an external PostgreSQL the nodes share it by themselves (shared_secrets); here
    // node A runs the embedded one, whose key lives in A's data dir.
    JWT_SECRET: 'bench-replication-jwt-secret-of-at-least-32-chars',
  };
  if (pool) env.DLS_ZFS_ROOT = `${pool.name}/${name}`;
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  const app = await createApp(loadConfig(env), { logger: false });
  await app.listen(port, '127.0.0.1');
  return { app, base: `http://127.0.0.1:${port}` };
}

async function main(): Promise<void> {
  const rows: string[] = [];
  for (const driver of DRIVERS) {
    const work = await fs.mkdtemp(path.join(os.tmpdir(), `dls-bench-replication-${driver}-`));
    let pool: TestPool | null = null;
    let a: { app: App; base: string } | undefined;
    let b: { app: App; base: string } | undefined;
    try {
      if (driver === 'zfs') {
        await ensureZfsFuse();
        pool = await createTestPool();
        await sh(`zfs create -o compression=off ${pool.name}/ref`);
      }
      a = await node('bench-a', path.join(work, 'a'), driver, pool);
      const url = (a.app.get(DataSource).options as { url?: string }).url!;
      b = await node('bench-b', path.join(work, 'b'), driver, pool, url);
      const login = await fetch(`${a.base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(ADMIN),
      });
      const token = ((await login.json()) as { accessToken: string }).accessToken;
      const call = async <T = Record<string, unknown>>(base: string, method: string, route: string, body?: unknown): Promise<T> => {
        const r = await fetch(`${base}${route}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        if (!r.ok) throw new Error(`${method} ${route}: ${r.status} ${await r.text()}`);
        return (r.status === 204 ? {} : await r.json()) as T;
      };
      /** Seconds from now until B holds `versionId` verified; its row. */
      const untilVerifiedOnB = async (versionId: string, since: number) => {
        for (;;) {
          const rows = await call<{ node: string; state: string; method: string; bytesCopied: number; error: string | null }[]>(
            b!.base,
            'GET',
            `/api/v1/replication?versionId=${versionId}`,
          );
          const r = rows.find((x) => x.node === 'bench-b');
          if (r?.state === 'verified') return { secs: (Date.now() - since) / 1000, row: r };
          if (r?.state === 'failed') throw new Error(`copy failed: ${r.error}`);
          if (Date.now() - since > 600_000) throw new Error('no verified copy within 10 min');
          await new Promise((res) => setTimeout(res, 50));
        }
      };
      /**
       * Seconds the bare tools take for the same version on the same disk: zfs — `zfs send [-i] | zfs receive` into a
       * root of their own and `sha256sum` of the received file; dir — a sparse `cp` of the version file, `sync` and
       * `sha256sum`.
       */
      const reference = async (imageId: string, versionId: string, baseId: string | null, target: string): Promise<number> => {
        const started = Date.now();
        if (pool) {
          const ds = `${pool.name}/bench-a/images/${imageId}`;
          const send = baseId ? `zfs send -i @v-${baseId} ${ds}@v-${versionId}` : `zfs send ${ds}@v-${versionId}`;
          await sh(`${send} | zfs receive -F ${pool.name}/ref/${target}@v-${versionId} && sha256sum ${pool.mountpoint}/ref/${target}/disk.raw`);
        } else {
          const file = path.join(work, 'a', 'storage', 'images', imageId, 'versions', `${versionId}.raw`);
          const copy = path.join(work, `${target}.raw`);
          await sh(`cp --sparse=always ${file} ${copy} && sync ${copy} && sha256sum ${copy} && rm ${copy}`);
        }
        return (Date.now() - started) / 1000;
      };
      const full: [number, number][] = [];
      const incr: [number, number][] = [];
      for (let i = 0; i < RUNS; i++) {
        const src = path.join(work, `src-${i}.raw`);
        await sh(`head -c ${SIZE_MIB * MiB} /dev/urandom > ${src}`);
        const img = await call<{ id: string }>(a.base, 'POST', '/api/v1/images', {
          name: `bench-${driver}-${i}`,
          sizeBytes: SIZE_MIB * MiB,
          format: 'raw',
        });
        const up = await fetch(`${a.base}/api/v1/images/${img.id}/content?format=raw`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
          body: await fs.readFile(src),
        });
        if (!up.ok) throw new Error(`upload: ${up.status} ${await up.text()}`);
        let t0 = Date.now();
        const v1 = await call<{ id: string }>(a.base, 'POST', `/api/v1/images/${img.id}/snapshots`, { name: 'v1' });
        const f = await untilVerifiedOnB(v1.id, t0);

        const ref = await reference(img.id, v1.id, null, `r${i}`);
        full.push([f.secs, ref]);
        rows.push(
          `${driver} full  run ${i + 1}: DLS ${(SIZE_MIB / f.secs).toFixed(0)} MB/s (${f.secs.toFixed(2)} s, ${f.row.method}, ${(f.row.bytesCopied / MiB).toFixed(1)} MiB sent) · reference ${(SIZE_MIB / ref).toFixed(0)} MB/s (${ref.toFixed(2)} s) · ratio ${(ref / f.secs).toFixed(2)}`,
        );

        // 1 % changed by a maintenance client, committed.
        const pc = await call<{ id: string }>(a.base, 'POST', '/api/v1/clients', {
          macAddress: `52:54:00:bb:${driver === 'zfs' ? '01' : '02'}:${(i + 16).toString(16)}`,
          hostname: `bench-${driver}-pc-${i}`,
          assignedImageId: img.id,
        });
        await call(a.base, 'POST', `/api/v1/images/${img.id}/maintenance`, { clientId: pc.id });
        const disk = await call<{ path: string }>(a.base, 'PUT', `/api/v1/clients/${pc.id}/disk`);
        const fh = await fs.open(disk.path, 'r+');
        const chunks = Math.max(1, Math.round((SIZE_MIB * MiB) / 100 / (64 * 1024)));
        for (let k = 0; k < chunks; k++) {
          const off = Math.floor(((k + 0.5) * SIZE_MIB * MiB) / chunks / (64 * 1024)) * 64 * 1024;
          await fh.write(randomBytes(64 * 1024), 0, 64 * 1024, off);
        }
        await fh.sync();
        await fh.close();
        t0 = Date.now();
        const v2 = await call<{ id: string }>(a.base, 'POST', `/api/v1/images/${img.id}/snapshots/commit`, { name: 'v2' });
        const n = await untilVerifiedOnB(v2.id, t0);
        const refI = await reference(img.id, v2.id, v1.id, `r${i}`);
        incr.push([n.secs, refI]);
        rows.push(
          `${driver} 1 %   run ${i + 1}: DLS ${n.secs.toFixed(2)} s (${n.row.method}, ${(n.row.bytesCopied / MiB).toFixed(1)} MiB sent) · reference ${refI.toFixed(2)} s · ratio ${(refI / n.secs).toFixed(2)}`,
        );
        await call(a.base, 'DELETE', `/api/v1/images/${img.id}/maintenance`);
        await fs.rm(src, { force: true });
        console.log(rows.slice(-2).join('\n'));
      }
      rows.push(
        `${driver} MEDIAN full: DLS ${(SIZE_MIB / median(full.map((x) => x[0]))).toFixed(0)} MB/s, reference ${(SIZE_MIB / median(full.map((x) => x[1]))).toFixed(0)} MB/s, ratio ${median(full.map((x) => x[1] / x[0])).toFixed(2)}; ` +
          `1 % incremental: DLS ${median(incr.map((x) => x[0])).toFixed(2)} s, reference ${median(incr.map((x) => x[1])).toFixed(2)} s, ratio ${median(incr.map((x) => x[1] / x[0])).toFixed(2)}`,
      );
    } finally {
      await b?.app.close().catch(() => undefined);
      await a?.app.close().catch(() => undefined); // also stops the embedded PostgreSQL it started
      if (pool) {
        await destroyTestPool(pool).catch(() => undefined);
        await releaseZfsFuse().catch(() => undefined);
      }
      await fs.rm(work, { recursive: true, force: true });
    }
  }
  console.log(`\nbench:replication — ${SIZE_MIB} MiB versions, ${RUNS} runs\n${rows.join('\n')}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
