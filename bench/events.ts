/**
 * Live-event benchmark: events/s delivered to 50 concurrent SSE subscribers during a simulated boot storm.
 *
 *   npm run bench:events -- [events=10000] [subscribers=50]
 *
 * Starts two DLS nodes on one embedded PostgreSQL (temporary data dir): node A publishes, node B serves the
 * subscribers, so every event goes A → INSERT…NOTIFY → B's LISTEN connection → B's ring → 50 HTTP streams (the
 * multi-node path; a local subscriber skips the LISTEN read). The storm: for each of N/4 clients a DHCP discover,
 * an offer, a boot-session transition and a TFTP transfer, published through the hot-path `emit` in bursts of 250
 * per event-loop turn. Measures from the first emit until every subscriber has every event. Everything it started
 * is stopped and removed at the end.
 */
import 'reflect-metadata';
import { promises as fs } from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { createApp } from '../src/bootstrap';
import { loadConfig } from '../src/config/config.loader';
import { EventsService } from '../src/modules/events';
import { SseClient } from '../test/support/sse-client';

const N = Number(process.argv[2] ?? 10_000);
const SUBSCRIBERS = Number(process.argv[3] ?? 50);
const ADMIN = { username: 'admin', password: 'bench-admin-password' };
const VIEWER = { username: 'dashboard', password: 'bench-dashboard-password' };

function env(dataDir: string, extra: Record<string, string> = {}) {
  // No PORT: it must be a real port (boot scripts name it) and the bench listens on an ephemeral one itself.
  return loadConfig({
    // Each node its own data dir (a user picks one), loopback only, and the first admin's password chosen so the bench
    // can log in.
    DLS_DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    DLS_ADMIN_USER: ADMIN.username,
    DLS_ADMIN_PASSWORD: ADMIN.password,
    LOG_LEVEL: 'error',
    // Two API-only control planes, as a user runs extra admin nodes: the bench measures the event path (events are
    // published through the port directly), and nothing may bind on the host's interfaces. Their disks live in a tmp
    // dir whose free space is not the subject.
    DLS_DHCP_ENABLED: 'false',
    DLS_TFTP_ENABLED: 'false',
    DLS_ISCSI_ENABLED: 'false',
    DLS_IPV6_RA: 'false',
    DLS_STORAGE_MIN_FREE: '0',
    // No metrics listener: both nodes run in this process and would want the default 127.0.0.1:9464 (which another
    // run may hold); metrics are not what this bench measures.
    DLS_METRICS_ADDRESS: 'off',
    ...extra,
  });
}

const turn = () => new Promise<void>((r) => setImmediate(r));

async function main(): Promise<void> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dls-bench-events-'));
  const a = await createApp(env(dataDir), { logger: false });
  let b: Awaited<ReturnType<typeof createApp>> | undefined;
  const clients: SseClient[] = [];
  try {
    await a.init();
    const url = (a.get(DataSource).options as { url?: string }).url!;
    b = await createApp(env(path.join(dataDir, 'b'), { DATABASE_URL: url }), { logger: false });
    await b.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${(b.getHttpServer().address() as AddressInfo).port}`;
    const post = async (route: string, body: unknown, token?: string) => {
      const r = await fetch(`${base}${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
      if (!r.ok) throw new Error(`POST ${route}: ${r.status} ${await r.text()}`);
      return r.json() as Promise<Record<string, string>>;
    };
    // The subscribers are viewers, as a wall dashboard is: the bench's own calls (users, logins, 50 tickets) are
    // audited, and `audit` events go to admins only, so each subscriber's stream is exactly the storm.
    const admin = (await post('/api/v1/auth/login', ADMIN)).accessToken;
    await post('/api/v1/users', { ...VIEWER, role: 'viewer' }, admin);
    const accessToken = (await post('/api/v1/auth/login', VIEWER)).accessToken;
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const t = await fetch(`${base}/api/v1/events/ticket`, { method: 'POST', headers: { authorization: `Bearer ${accessToken}` } });
      const { ticket } = (await t.json()) as { ticket: string };
      const c = await SseClient.open(`${base}/api/v1/events?ticket=${ticket}`);
      if (c.status !== 200) throw new Error(`subscribe: ${c.status}`);
      clients.push(c);
    }
    const pub = a.get(EventsService);
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      const client = `c-${i >> 2}`;
      const mac = `52:54:00:00:${((i >> 10) & 0xff).toString(16).padStart(2, '0')}:${((i >> 2) & 0xff).toString(16).padStart(2, '0')}`;
      switch (i % 4) {
        case 0:
          pub.emit('dhcp', {
            mac,
            clientId: client,
            rangeId: 'r',
            range: 'lab',
            xid: i.toString(16),
            message: 'discover',
            reply: 'offer',
            ip: '10.0.0.1',
            proxy: false,
            reason: null,
          });
          break;
        case 1:
          pub.emit('boot-session', {
            sessionId: `s-${i}`,
            clientId: client,
            status: 'starting',
            previousStatus: null,
            clientIp: '10.0.0.1',
            bootTimeSeconds: null,
            elapsedMs: 0,
            error: null,
            reason: null,
          });
          break;
        case 2:
          pub.emit('tftp', {
            file: 'undionly.kpxe',
            clientIp: '10.0.0.1',
            clientId: client,
            mac,
            bytes: 70_000,
            durationMs: 40,
            ok: true,
            error: null,
          });
          break;
        default:
          pub.emit('boot-script', { mac, clientId: client, clientIp: '10.0.0.1', outcome: 'served', reason: null });
      }
      if (i % 250 === 249) await turn();
    }
    const tEmit = performance.now() - t0;
    await pub.flush();
    const count = (c: SseClient) => c.messages.length;
    await Promise.all(clients.map((c) => c.waitFor((x) => count(x) >= N - pub.droppedCount || x.ended, 'all events', 120_000)));
    const secs = (performance.now() - t0) / 1000;
    const delivered = clients.reduce((s, c) => s + c.messages.filter((m) => m.id).length, 0);
    const droppedSubs = clients.filter((c) => c.ofType('dropped').length > 0).length;
    console.log(`${N} events published on node A in ${tEmit.toFixed(0)} ms (publish buffer drops: ${pub.droppedCount})`);
    console.log(`${SUBSCRIBERS} SSE subscribers on node B (LISTEN/NOTIFY), ${os.cpus().length} CPUs, everything in one process`);
    console.log(
      `all delivered in ${secs.toFixed(2)} s: ${(N / secs).toFixed(0)} events/s per subscriber, ${(delivered / secs).toFixed(0)} events/s delivered in total`,
    );
    console.log(`subscribers dropped as slow: ${droppedSubs}`);
    process.exitCode = droppedSubs === 0 && delivered === N * SUBSCRIBERS ? 0 : 1;
  } finally {
    for (const c of clients) c.close();
    await b?.close();
    await a.close(); // also stops the embedded PostgreSQL it started
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
