import { LoggerService } from '@nestjs/common';
import fc from 'fast-check';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Client as PgClient } from 'pg';
import { DisksAhead } from '../../src/modules/catalog/disks/disks-ahead.service';
import { EventsService } from '../../src/modules/events';
import { clientBody, imageBody, rangeBody, unique } from '../factories';
import { FuzzRequest, IdPools, OpenApiDocument, poolFor, requestsFor, routesOf } from '../fuzz/openapi-fuzz';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(300_000);

/**
 * API fuzz suite: reads the live app's OpenAPI document (`/docs-json`) and, for every operation, sends generated
 * requests as admin, operator, viewer and anonymous — JSON bodies for POST/PUT/PATCH (mostly valid with one hostile
 * field, or hostile throughout), every query parameter, documented request headers (If-Match: current, stale and
 * malformed tags), and path parameters filled with real ids of seeded records or junk. A new route or field is fuzzed without touching this file; a new path parameter needs an id pool below.
 *
 * Fails on: any 5xx but 507 (the free-space guard's refusal), any request slower than {@link SLOW_MS}, a transport error, and any 4xx after which the
 * database (every table but `audit_log`, which records failed calls by design, and the events a refusal publishes by
 * design: {@link DESIGNED_EVENT_TYPES}) or the storage tree differs from before the request.
 *
 * Deterministic: FUZZ_SEED (printed) picks every input; FUZZ_SCALE multiplies the runs per route for a longer hunt.
 */
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 0x0d15c;
const SCALE = process.env.FUZZ_SCALE ? Number(process.env.FUZZ_SCALE) : 1;
const SLOW_MS = 5000;
/**
 * A request still unanswered after this is abandoned and fuzzing stops: whatever it still does in the background
 * would be blamed on the requests after it.
 */
const HANG_MS = 30_000;
/** Time each route × role may take, per planned request: a slow route (argon2, a slow bug) is cut short, and says so. */
const BUDGET_MS_PER_RUN = 80;

type Role = 'admin' | 'operator' | 'viewer' | 'anonymous';
const ROLES: Role[] = ['admin', 'operator', 'viewer', 'anonymous'];

/** Requests per route and role. Writes get the most; lower roles mostly meet the guard, so fewer. */
const RUNS: Record<'write' | 'read' | 'delete', Record<Role, number>> = {
  write: { admin: 40, operator: 14, viewer: 4, anonymous: 4 },
  read: { admin: 14, operator: 4, viewer: 4, anonymous: 3 },
  delete: { admin: 6, operator: 3, viewer: 2, anonymous: 2 },
};

/**
 * Routes fuzzed only in part or in their own way, and why. An explicit allow-list: the suite fails when a listed route
 * no longer exists, so the list cannot rot. `body: false` = path and query fuzzed, body never sent. `stream: true` = a
 * 200 is an event stream that stays open until the client leaves: it is read up to its first chunk, then hung up on.
 */
const EXCLUSIONS: Record<string, { body?: false; stream?: true; why: string }> = {
  'PUT /api/v1/images/{id}/content': {
    body: false,
    why: 'the body is a streamed disk upload (application/octet-stream, up to the disk size), not JSON; its id and ?format= are fuzzed with an empty body',
  },
  'GET /api/v1/events': {
    stream: true,
    why:
      'Server-Sent Events: a 200 never ends by design, so waiting for its end would hang the suite (HANG_MS, then nothing after it is ' +
      'fuzzed). Bounded instead of skipped: a 200 counts once its first chunk (the `retry:` line) arrives, then the client hangs up, ' +
      'and the suite checks every stream it opened was closed. The route takes a single-use ticket only, which no generator can ' +
      'guess: every other request of a role that can get one carries a fresh ticket (POST /events/ticket, itself fuzzed as a ' +
      'route), so the fuzzed query (lastEventId, repeated and unknown keys) reaches validation and the resume replay',
  },
};

/**
 * Event types a refused call publishes by design (into `events`, the live stream's resume window): `audit` mirrors
 * the audit_log row every audited call writes, failed ones included, and `storage.alert` is the free-space guard's
 * 507, and `wake` reports a wake that sent nothing (a 409 names why; operators see failed wakes live too). Any
 * other event published by a 4xx is a write left behind; rows the retention timer prunes are nobody's write.
 */
const DESIGNED_EVENT_TYPES = new Set(['audit', 'storage.alert', 'wake']);

interface Failure {
  route: string;
  role: Role;
  reason: string;
  request: string;
  status: number;
  ms: number;
  serverLog?: string;
}

/** Collects what the app logs at error level (the app runs with its logger off otherwise), for 5xx reports. */
class CapturingLogger implements LoggerService {
  readonly errors: string[] = [];
  log(): void {}
  warn(): void {}
  debug(): void {}
  verbose(): void {}
  error(message: unknown, ...rest: unknown[]): void {
    this.errors.push([message, ...rest].map((x) => (x instanceof Error ? (x.stack ?? x.message) : String(x))).join(' '));
    if (this.errors.length > 200) this.errors.shift();
  }
}

/** A stable 32-bit hash (FNV-1a), so each route × role gets its own seed derived from SEED. */
function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

describe('API fuzz (e2e)', () => {
  let t: TestApp;
  let base: { host: string; port: number };
  let agent: http.Agent;
  let pg: PgClient;
  let events: EventsService;
  let disksAhead: DisksAhead;
  const logger = new CapturingLogger();
  const tokens: Partial<Record<Role, string>> = {};
  const pools: IdPools = {};

  /**
   * One HTTP exchange over a keep-alive connection; resolves with status and elapsed time (never rejects). With
   * `stream`, a 200 resolves on its first chunk and the connection is dropped (an event stream has no end).
   */
  function send(req: FuzzRequest, role: Role, stream = false): Promise<{ status: number; ms: number; body: string; error?: string }> {
    const headers: Record<string, string> = {};
    Object.assign(headers, req.headers);
    if (tokens[role]) headers.authorization = `Bearer ${tokens[role]}`;
    if (req.contentType) headers['content-type'] = req.contentType;
    const payload = req.body === undefined ? undefined : Buffer.from(req.body, 'utf8');
    if (payload) headers['content-length'] = String(payload.length);
    const started = Date.now();
    return new Promise((resolve) => {
      const r = http.request({ ...base, agent, method: req.method, path: req.url, headers, timeout: HANG_MS }, (res) => {
        if (stream && res.statusCode === 200) {
          res.once('data', (c: Buffer) => {
            r.destroy();
            resolve({ status: 200, ms: Date.now() - started, body: c.toString('utf8') });
          });
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: Date.now() - started, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (e) => resolve({ status: 0, ms: Date.now() - started, body: '', error: e.message }));
      });
      r.on('timeout', () => r.destroy(new Error(`no answer within ${HANG_MS} ms`)));
      r.on('error', (e) => resolve({ status: 0, ms: Date.now() - started, body: '', error: e.message }));
      r.end(payload);
    });
  }

  /** The storage tree (paths and sizes): a failed call must not leave files behind either. */
  async function storageTree(): Promise<string[]> {
    const files: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) {
          files.push(`${path.relative(t.dataDir, p)}/`);
          await walk(p);
        } else files.push(`${path.relative(t.dataDir, p)} ${(await fs.stat(p).catch(() => ({ size: -1 }))).size}`);
      }
    };
    await walk(path.join(t.dataDir, 'storage'));
    return files.sort();
  }

  /**
   * Database writes since change-log entry `mark`, net: a row changed and changed back (same first-old and last-new
   * image) is no write. Returns the new mark and one line per row left different.
   */
  async function writesSince(mark: number): Promise<{ mark: number; left: string[] }> {
    const rows = (
      await pg.query<{ id: string; tbl: string; op: string; row_old: Record<string, unknown> | null; row_new: Record<string, unknown> | null }>(
        'SELECT id, tbl, op, row_old, row_new FROM fuzz_changes WHERE id > $1 ORDER BY id',
        [mark],
      )
    ).rows;
    const net = new Map<string, { tbl: string; first: unknown; last: unknown; ops: string[] }>();
    for (const r of rows) {
      const id = (r.row_new ?? r.row_old)?.id;
      const key = `${r.tbl} ${typeof id === 'string' ? id : JSON.stringify(r.row_new ?? r.row_old)}`;
      const e = net.get(key) ?? { tbl: r.tbl, first: r.row_old, last: r.row_new, ops: [] };
      e.last = r.row_new;
      e.ops.push(r.op);
      net.set(key, e);
    }
    const left = [...net]
      .filter(([, e]) => JSON.stringify(e.first) !== JSON.stringify(e.last))
      .filter(([, e]) => !(e.tbl === 'events' && (e.last === null || DESIGNED_EVENT_TYPES.has((e.last as { type?: string }).type ?? ''))))
      .filter(([, e]) => !(e.tbl === 'nodes' && e.first && e.last && heartbeatOnly(e.first, e.last)))
      .map(([key, e]) => `${key} ${e.ops.join('+')}${e.first && e.last ? ` (${changedColumns(e.first, e.last)})` : ''}`);
    return { mark: rows.length ? Number(rows[rows.length - 1].id) : mark, left };
  }

  /** A single-use stream ticket for `role` (which has a token), through the API as a client gets one. */
  async function freshTicket(role: Role): Promise<string> {
    const r = await send({ method: 'POST', url: '/api/v1/events/ticket', kind: 'ticket' }, role);
    if (r.status !== 201) throw new Error(`POST /api/v1/events/ticket as ${role} → ${r.status} ${r.body}`);
    return (JSON.parse(r.body) as { ticket: string }).ticket;
  }

  async function api(method: string, url: string, body?: unknown): Promise<Record<string, unknown>> {
    const r = await send(
      {
        method: method as FuzzRequest['method'],
        url,
        body: body === undefined ? undefined : JSON.stringify(body),
        contentType: 'application/json',
        kind: 'seed',
      },
      'admin',
    );
    if (r.status >= 300) throw new Error(`seed ${method} ${url} → ${r.status} ${r.body}`);
    return (r.body ? JSON.parse(r.body) : {}) as Record<string, unknown>;
  }

  beforeAll(async () => {
    // The wake-schedule runner's tick writes on its own clock (a schedule the fuzz created falling due), and the
    // suite would blame that write on whichever request was in flight: no tick on this node (DLS_WOL_SCHEDULES=false,
    // as on a node that must not fire schedules). Routes and validation are the same.
    t = await createTestApp({ DLS_WOL_SCHEDULES: 'false' });
    t.app.useLogger(logger);
    events = t.app.get(EventsService);
    disksAhead = t.app.get(DisksAhead);
    await new Promise<void>((resolve) => t.app.getHttpServer().listen(0, '127.0.0.1', () => resolve()));
    base = { host: '127.0.0.1', port: (t.app.getHttpServer().address() as AddressInfo).port };
    agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    tokens.admin = t.adminToken;
    tokens.operator = await t.tokenFor('operator');
    tokens.viewer = await t.tokenFor('viewer');

    // Seeds, through the API: every id pool a path parameter or id-valued field draws from.
    const img = await api('POST', '/api/v1/images', imageBody({ path: undefined }));
    const img2 = await api('POST', '/api/v1/images', imageBody({ path: undefined, parentImageId: img.id }));
    await api('POST', `/api/v1/images/${String(img.id)}/content/blank`, { sizeBytes: 512 * 1024 });
    const v1 = await api('POST', `/api/v1/images/${String(img.id)}/snapshots`, { name: unique('v') });
    const v2 = await api('POST', `/api/v1/images/${String(img.id)}/snapshots`, { name: unique('v') });
    await api('POST', `/api/v1/images/${String(img.id)}/snapshots/${String(v1.id)}/publish`);
    const c1 = await api('POST', '/api/v1/clients', clientBody({ assignedImageId: img.id }));
    const c2 = await api('POST', '/api/v1/clients', clientBody());
    const c3 = await api('POST', '/api/v1/clients', clientBody({ assignedImageId: img.id, diskPolicy: 'persistent' }));
    await api('PUT', `/api/v1/clients/${String(c3.id)}/disk`);
    const session = await api('POST', '/api/v1/boot-sessions', { clientId: c1.id, clientIp: '10.99.0.21' });
    const range = await api('POST', '/api/v1/network-ranges', rangeBody({ cidr: '10.99.0.0/24', poolStart: '10.99.0.100', poolEnd: '10.99.0.199' }));
    const u1 = await api('POST', '/api/v1/users', { username: unique('victim'), password: 'victim-password-1', role: 'viewer' });
    const u2 = await api('POST', '/api/v1/users', { username: unique('victim'), password: 'victim-password-2', role: 'admin' });
    const g1 = await api('POST', '/api/v1/client-groups', { name: unique('room'), imageId: img.id });
    const g2 = await api('POST', '/api/v1/client-groups', { name: unique('room') });
    const w1 = await api('POST', '/api/v1/wake-schedules', { groupId: g1.id, days: ['mon', 'fri'], time: '07:45', timezone: 'Europe/Berlin' });
    const w2 = await api('POST', '/api/v1/wake-schedules', { groupId: g2.id, cron: '0 7 * * 1-5', timezone: 'UTC', enabled: false });
    // A signed loader (Debian's Microsoft-signed shim: the API keeps only signed EFI programs).
    const shim = await t.http
      .put('/api/v1/signed-loaders/x64/shimx64.efi?entry=true')
      .set('Authorization', `Bearer ${t.adminToken}`)
      .set('Content-Type', 'application/octet-stream')
      .send(readFileSync('/usr/lib/shim/shimx64.efi.signed'));
    expect(shim.status).toBe(200);
    const self = ((await api('GET', '/api/v1/nodes')) as unknown as { id: string }[])[0];
    Object.assign(pools, {
      nodes: [self.id],
      'signed-loader-platforms': ['x64', 'arm64'],
      'signed-loader-names': ['shimx64.efi', 'grubx64.efi'],
      images: [img.id, img2.id],
      snapshots: [v1.id, v2.id],
      // `/replication/versions/{id}/content`: image versions are the snapshots.
      versions: [v1.id, v2.id],
      clients: [c1.id, c2.id, c3.id],
      macs: [c1.macAddress, c2.macAddress],
      'boot-sessions': [session.id],
      'network-ranges': [range.id],
      users: [u1.id, u2.id],
      'client-groups': [g1.id, g2.id],
      'wake-schedules': [w1.id, w2.id],
    });

    pg = new PgClient({ connectionString: t.config.database.url });
    await pg.connect();
    const tables = (
      await pg.query<{ name: string }>(
        `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`,
      )
    ).rows.map((r) => r.name);
    const watched = tables.filter((n) => n !== 'audit_log' && n !== 'migrations');
    expect(watched).toEqual(expect.arrayContaining(['images', 'clients', 'users', 'network_ranges', 'image_snapshots', 'boot_sessions']));
    // A change log of this test's own database (a clone of the template, dropped afterwards): one row per row written,
    // in the writer's transaction, so a rolled-back write leaves no entry.
    await pg.query(`CREATE TABLE fuzz_changes (id bigserial PRIMARY KEY, tbl text NOT NULL, op text NOT NULL, row_old jsonb, row_new jsonb)`);
    await pg.query(`CREATE FUNCTION fuzz_note() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO fuzz_changes (tbl, op, row_old, row_new)
        VALUES (TG_TABLE_NAME, TG_OP, CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END, CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END);
        RETURN NULL;
      END $$`);
    for (const n of watched)
      await pg.query(`CREATE TRIGGER fuzz_note AFTER INSERT OR UPDATE OR DELETE ON "${n}" FOR EACH ROW EXECUTE FUNCTION fuzz_note()`);
  });

  afterAll(async () => {
    agent?.destroy();
    await pg?.end();
    await t?.close();
  });

  it('every operation in /docs-json survives generated input from every role', async () => {
    const started = Date.now();
    const doc = (await t.http.get('/docs-json').expect(200)).body as OpenApiDocument;
    const routes = routesOf(doc).sort((a, b) => a.key.localeCompare(b.key));
    const keys = new Set(routes.map((r) => r.key));

    // The walk sees the API (sanity check), the exclusions name routes that exist, and every path parameter has ids.
    expect(routes.length).toBeGreaterThan(40);
    expect(Object.keys(EXCLUSIONS).filter((k) => !keys.has(k))).toEqual([]);
    const unseeded = routes.flatMap((r) =>
      r.pathParams.filter((p) => !pools[poolFor(p.name, r.path) ?? '']?.length).map((p) => `${r.key}: {${p.name}}`),
    );
    expect(unseeded).toEqual([]);

    const fuzzed = routes.filter((r) => r.method !== 'GET' || r.pathParams.length > 0 || r.queryParams.length > 0);
    console.log(`API fuzz: seed ${SEED} (reproduce with FUZZ_SEED=${SEED}), ${fuzzed.length} of ${routes.length} operations`);

    const failures: Failure[] = [];
    let sent = 0;
    let hung = false;
    const cut: string[] = [];
    await disksAhead.flush(); // the seeds' client disks, made ahead, belong to the seeding
    let mark = (await writesSince(0)).mark;
    let files = await storageTree();
    const statusCount: Record<string, number> = {};
    const perRoute: [string, number, number][] = [];
    let streamsOpened = 0;
    for (const route of fuzzed) {
      const routeStarted = Date.now();
      const routeSent = sent;
      const kind = route.method === 'GET' ? 'read' : route.method === 'DELETE' ? 'delete' : 'write';
      for (const role of ROLES) {
        const arb = requestsFor(route, pools, {
          // DELETE gets junk ids only: deleting the seeds would leave every later route with 404s (each resource's own
          // e2e suite covers its deletion).
          realIds: route.method !== 'DELETE',
          noBody: EXCLUSIONS[route.key]?.body === false,
        });
        const numRuns = Math.max(1, Math.round(RUNS[kind][role] * SCALE));
        const deadline = Date.now() + numRuns * BUDGET_MS_PER_RUN;
        let n = 0;
        for (const req of fc.sample(arb, { seed: (SEED ^ fnv(`${route.key} ${role}`)) | 0, numRuns })) {
          if (hung) break;
          if (Date.now() > deadline) {
            cut.push(`${route.key} as ${role}: ${n}/${numRuns}`);
            break;
          }
          n++;
          const stream = EXCLUSIONS[route.key]?.stream === true;
          const sentReq = stream && n % 2 === 1 && tokens[role] ? { ...req, url: withTicket(req.url, await freshTicket(role)) } : req;
          const logMark = logger.errors.length;
          const res = await send(sentReq, role, stream);
          sent++;
          if (stream && res.status === 200) streamsOpened++;
          const bucket = `${Math.floor(res.status / 100)}xx`;
          statusCount[bucket] = (statusCount[bucket] ?? 0) + 1;
          const fail = (reason: string) =>
            failures.push({
              route: route.key,
              role,
              reason,
              request: show(sentReq, res.status >= 500 ? 20_000 : 400),
              status: res.status,
              ms: res.ms,
              serverLog: logger.errors.slice(logMark).join('\n').slice(0, 1500) || undefined,
            });
          if (res.error) {
            fail(`transport: ${res.error}`);
            hung = res.ms >= HANG_MS;
          } else if (res.status >= 500 && res.status !== 507) fail(`${res.status} ${res.body.slice(0, 300)}`);
          if (res.ms > SLOW_MS && !res.error) fail(`slow: ${res.ms} ms`);
          // Events are published through a buffer written every few ms, and client disks are made ahead about a second
          // after a change: both done now, they count for this request (a 2xx's; a refused request changed nothing).
          await events.flush();
          await disksAhead.flush();
          const writes = await writesSince(mark);
          const tree = await storageTree();
          // 507 is a designed refusal too (the free-space guard: a machine with less space than this one meets it).
          if ((res.status >= 400 && res.status < 500) || res.status === 507) {
            const added = tree.filter((f) => !files.includes(f)).map((f) => `+${f}`);
            const removed = files.filter((f) => !tree.includes(f)).map((f) => `-${f}`);
            const left = [...writes.left, ...added, ...removed];
            if (left.length) fail(`${res.status} left a write behind: ${left.join('; ').slice(0, 600)}`);
          }
          mark = writes.mark;
          files = tree;
        }
      }
      perRoute.push([route.key, sent - routeSent, Date.now() - routeStarted]);
    }

    // Every event stream the suite opened ended when it hung up (nothing keeps a subscriber of a gone client).
    const streamsLeft = await settled(() => events.subscriberCount, 0);

    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
      `API fuzz: ${sent} requests in ${seconds} s (${JSON.stringify(statusCount)}), ${failures.length} failure(s), seed ${SEED}` +
        `\nevent streams opened (fresh tickets) and hung up on: ${streamsOpened}, still subscribed: ${streamsLeft}` +
        `\nslowest routes: ${perRoute
          .sort((a, b) => b[2] - a[2])
          .slice(0, 5)
          .map(([k, n, ms]) => `${k} ${n} req ${ms} ms`)
          .join('; ')}` +
        (cut.length ? `\nout of time (sent/planned): ${cut.join('; ')}` : '') +
        (hung ? `\nSTOPPED after a request hung for ${HANG_MS} ms: later routes were not fuzzed` : '') +
        (failures.length ? `\n${report(failures)}` : ''),
    );
    expect(failures.map((f) => `${f.route} as ${f.role}: ${f.reason}`)).toEqual([]);
    expect(streamsOpened).toBeGreaterThan(0);
    expect(streamsLeft).toBe(0);
  });
});

/** `url` with its `ticket` query parameter(s) replaced by `ticket`; every other parameter is kept byte for byte. */
function withTicket(url: string, ticket: string): string {
  const at = url.indexOf('?');
  const [path, qs] = at < 0 ? [url, ''] : [url.slice(0, at), url.slice(at + 1)];
  const key = (pair: string) => {
    const k = pair.split('=')[0];
    try {
      return decodeURIComponent(k);
    } catch {
      return k;
    }
  };
  const kept = qs.split('&').filter((pair) => pair !== '' && key(pair) !== 'ticket');
  return `${path}?${[...kept, `ticket=${encodeURIComponent(ticket)}`].join('&')}`;
}

/** `read()` once it equals `want`, or its last value after `timeoutMs` (polled: a count has no event to wait on). */
async function settled<T>(read: () => T, want: T, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (read() !== want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return read();
}

/** The request as text; a 5xx gets its whole body (up to `max`), so the report alone reproduces it. */
function show(req: FuzzRequest, max = 400): string {
  const body = req.body === undefined ? '' : ` body(${req.body.length}${req.contentType ? `, ${req.contentType}` : ''})=${req.body.slice(0, max)}`;
  return `${req.method} ${req.url.slice(0, 400)} [${req.kind}]${body}`;
}

/** Columns whose values differ between two row images. */
/** The node's own heartbeat (every 2 s, by design, whatever the requests): only `heartbeat_at` and `addresses` moved. */
function heartbeatOnly(a: unknown, b: unknown): boolean {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  return Object.keys(y).every((k) => k === 'heartbeat_at' || k === 'addresses' || JSON.stringify(x[k]) === JSON.stringify(y[k]));
}

function changedColumns(a: unknown, b: unknown): string {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  return Object.keys(y)
    .filter((k) => JSON.stringify(x[k]) !== JSON.stringify(y[k]))
    .map((k) => `${k}: ${JSON.stringify(x[k])?.slice(0, 40)} → ${JSON.stringify(y[k])?.slice(0, 40)}`)
    .join(', ');
}

/** Failures grouped by route and reason, with up to two example requests each. */
function report(failures: Failure[]): string {
  const groups = new Map<string, Failure[]>();
  for (const f of failures) {
    const k = `${f.route} → ${f.reason.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<uuid>').slice(0, 160)}`;
    groups.set(k, [...(groups.get(k) ?? []), f]);
  }
  return [...groups]
    .map(
      ([k, fs]) =>
        `* ${k} (${fs.length}x; roles ${[...new Set(fs.map((f) => f.role))].join(',')})\n` +
        fs
          .slice(0, 2)
          .map(
            (f) =>
              `    ${f.request}\n    → ${f.status} in ${f.ms} ms${f.serverLog ? `\n    server: ${f.serverLog.split('\n').slice(0, 6).join('\n            ')}` : ''}`,
          )
          .join('\n'),
    )
    .join('\n');
}
