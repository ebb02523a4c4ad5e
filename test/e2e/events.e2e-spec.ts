import type { AddressInfo } from 'node:net';
import { EventsService } from '../../src/modules/events';
import { EventTicketsService, TICKET_TTL_MS } from '../../src/modules/events/event-tickets.service';
import { SseClient } from '../support/sse-client';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(120_000);

/** Listens on an ephemeral loopback port and returns the base URL. */
async function listen(t: TestApp): Promise<string> {
  await t.app.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
}

async function ticketFor(t: TestApp, token: string): Promise<string> {
  const r = await t.http.post('/api/v1/events/ticket').set('Authorization', `Bearer ${token}`).send();
  expect(r.status).toBe(201);
  expect(typeof r.body.ticket).toBe('string');
  return r.body.ticket as string;
}

const probe = (n: number) => ({ sessionId: `s-${n}`, clientId: `c-${n}`, status: 'starting', previousStatus: null, clientIp: null }) as any;

describe('events stream (e2e)', () => {
  let t: TestApp;
  let base: string;
  let events: EventsService;
  const open: SseClient[] = [];
  const connect = async (path: string, headers: Record<string, string> = {}, opts: { paused?: boolean } = {}) => {
    const c = await SseClient.open(`${base}${path}`, headers, opts);
    open.push(c);
    return c;
  };
  /** An admin stream opened with a fresh ticket; `query` is appended (e.g. `&lastEventId=1`). */
  const adminStream = async (query = '', headers: Record<string, string> = {}, opts: { paused?: boolean } = {}) =>
    connect(`/api/v1/events?ticket=${await ticketFor(t, t.adminToken)}${query}`, headers, opts);

  beforeAll(async () => {
    // The smallest window and lag a user may set (a small install): the reset test prunes past 100 events and the
    // slow-consumer test laps a 500-event ring without publishing the default's thousands.
    t = await createTestApp({ DLS_EVENTS_MAX_COUNT: '100', DLS_EVENTS_MAX_LAG: '500' });
    base = await listen(t);
    events = t.app.get(EventsService);
  });
  afterEach(() => {
    for (const c of open.splice(0)) c.close();
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('tickets', () => {
    it('without a ticket or token, with a bad, a reused or an expired ticket: 401 at once', async () => {
      const viewer = await t.tokenFor('viewer');
      expect((await connect('/api/v1/events')).status).toBe(401);
      expect((await connect('/api/v1/events?ticket=nope')).status).toBe(401);
      expect((await connect('/api/v1/events?ticket=')).status).toBe(401);
      expect((await connect('/api/v1/events?ticket=a&ticket=b')).status).toBe(401);

      const ticket = await ticketFor(t, viewer);
      const first = await connect(`/api/v1/events?ticket=${ticket}`);
      expect(first.status).toBe(200);
      expect((await connect(`/api/v1/events?ticket=${ticket}`)).status).toBe(401);

      const late = await ticketFor(t, viewer);
      const tickets: { now: () => number } = t.app.get<any>(EventTicketsService);
      const realNow = tickets.now;
      tickets.now = () => realNow() + TICKET_TTL_MS + 1; // the ticket's 30 s are over
      try {
        expect((await connect(`/api/v1/events?ticket=${late}`)).status).toBe(401);
      } finally {
        tickets.now = realNow;
      }
    });

    it('the ticket is accepted on the stream route only', async () => {
      const viewer = await t.tokenFor('viewer');
      const ticket = await ticketFor(t, viewer);
      expect((await t.http.get(`/api/v1/clients?ticket=${ticket}`)).status).toBe(401);
    });

    it('POST /events/ticket needs a token', async () => {
      expect((await t.http.post('/api/v1/events/ticket').send()).status).toBe(401);
    });
  });

  it('OpenAPI documents the stream, the ticket route and a body schema per event type', async () => {
    const doc = (await t.http.get('/docs-json')).body;
    const stream = doc.paths['/api/v1/events'].get;
    expect(stream.responses['200'].content['text/event-stream'].schema.$ref).toBe('#/components/schemas/EventMessageDto');
    expect(stream.parameters.map((p: any) => p.name)).toEqual(expect.arrayContaining(['ticket', 'lastEventId', 'Last-Event-ID']));
    expect(doc.paths['/api/v1/events/ticket'].post.responses['201'].content['application/json'].schema.$ref).toBe(
      '#/components/schemas/EventTicketDto',
    );
    const bodies = doc.components.schemas.EventMessageDto.properties.body.oneOf.map((o: any) => o.$ref.split('/').pop());
    for (const name of bodies) expect(doc.components.schemas[name]).toBeDefined();
    expect(bodies).toEqual(
      expect.arrayContaining(['BootSessionEventBodyDto', 'DhcpEventBodyDto', 'TftpEventBodyDto', 'BootScriptEventBodyDto', 'IscsiEventBodyDto']),
    );
    expect(bodies).toEqual(expect.arrayContaining(['ImageImportEventBodyDto', 'VersionPublishedEventBodyDto', 'StorageAlertEventBodyDto']));
    expect(bodies).toEqual(expect.arrayContaining(['AuditEventBodyDto', 'ChangeEventBodyDto', 'ResetEventBodyDto', 'DroppedEventBodyDto']));
  });

  it('filters by role: a viewer does not see audit entries, an admin does', async () => {
    const viewer = await connect(`/api/v1/events?ticket=${await ticketFor(t, await t.tokenFor('viewer'))}`);
    const admin = await connect(`/api/v1/events?ticket=${await ticketFor(t, t.adminToken)}`);
    expect([viewer.status, admin.status]).toEqual([200, 200]);
    // a mutating call is audited → an `audit` event (admin only)
    const r = await t.http
      .post('/api/v1/users')
      .set('Authorization', `Bearer ${t.adminToken}`)
      .send({ username: 'ev-user', password: 'ev-user-password', role: 'viewer' });
    expect(r.status).toBe(201);
    await events.publish('boot-session', probe(1));
    await admin.waitFor(
      (c) => c.ofType('audit').some((m) => m.data.body.action === 'users.create') && c.ofType('boot-session').length > 0,
      'admin events',
    );
    await viewer.waitFor((c) => c.ofType('boot-session').some((m) => m.data.body.sessionId === 's-1'), 'viewer event');
    expect(viewer.ofType('audit')).toEqual([]);
    const msg = admin.ofType('boot-session')[0];
    expect(msg.id).toMatch(/^\d+$/);
    expect(msg.data).toEqual(
      expect.objectContaining({ id: msg.id, type: 'boot-session', time: expect.any(String), body: expect.objectContaining({ sessionId: 's-1' }) }),
    );
  });

  it('every role gets a `change` event (what changed, not who) for a write that succeeded, none for a refused one', async () => {
    const viewer = await connect(`/api/v1/events?ticket=${await ticketFor(t, await t.tokenFor('viewer'))}`);
    expect(viewer.status).toBe(200);
    const auth = { Authorization: `Bearer ${t.adminToken}` };
    // refused first (400: bad MAC), then a write that succeeds: the stream is ordered, so once the second's change is
    // seen, a change for the first would have been seen before it
    await t.http.post('/api/v1/clients').set(auth).send({ macAddress: 'not-a-mac', hostname: 'chg-bad' }).expect(400);
    const ok = await t.http.post('/api/v1/clients').set(auth).send({ macAddress: '52:54:00:c4:a0:01', hostname: 'chg-ok' }).expect(201);
    const id = (ok.body as { id: string }).id;
    await viewer.waitFor((c) => c.ofType('change').some((m) => m.data.body.entityId === id), 'change event for the new client');
    const changes = viewer.ofType('change').map((m) => m.data.body as Record<string, unknown>);
    expect(changes).toEqual([{ action: 'clients.create', entityType: 'clients', entityId: id }]);
    expect(viewer.ofType('audit')).toEqual([]);
  });

  it('a Bearer token alone is refused on the stream (nothing can hold it open without a ticket)', async () => {
    const c = await connect('/api/v1/events', { Authorization: `Bearer ${t.adminToken}` });
    expect(c.status).toBe(401);
    await c.waitFor((x) => x.ended, 'the 401 answer to end');
  });

  it('Last-Event-ID resumes without loss', async () => {
    const live = await adminStream();
    for (let i = 10; i < 15; i++) events.emit('boot-session', probe(i));
    await live.waitFor((c) => c.ofType('boot-session').filter((m) => /^s-1\d$/.test(m.data.body.sessionId)).length === 5, 'five live events');
    const got = live.ofType('boot-session').filter((m) => /^s-1\d$/.test(m.data.body.sessionId));
    live.close();
    // missed while disconnected
    for (let i = 15; i < 20; i++) events.emit('boot-session', probe(i));
    await events.flush();
    const resumed = await adminStream('', { 'Last-Event-ID': got[1].id! });
    const want = Array.from({ length: 18 }, (_, i) => `s-${i + 12}`).filter((s) => Number(s.slice(2)) < 20);
    await resumed.waitFor((c) => c.ofType('boot-session').length >= want.length, 'resumed events');
    expect(resumed.ofType('boot-session').map((m) => m.data.body.sessionId)).toEqual(want);
    // ?lastEventId= does the same for clients that cannot set the header
    const byQuery = await adminStream(`&lastEventId=${got[3].id}`);
    await byQuery.waitFor((c) => c.ofType('boot-session').length >= 6, 'resumed by query');
    expect(byQuery.ofType('boot-session').map((m) => m.data.body.sessionId)).toEqual(['s-14', 's-15', 's-16', 's-17', 's-18', 's-19']);
  });

  it('an id older than the window gets a reset event', async () => {
    for (let i = 0; i < 150; i++) events.emit('boot-session', probe(1000 + i));
    await events.flush();
    await events.prune(); // DLS_EVENTS_MAX_COUNT=100
    const c = await adminStream('&lastEventId=1');
    await c.waitFor((x) => x.ofType('reset').length === 1, 'reset');
    expect(c.ofType('boot-session')).toEqual([]);
  });

  it('a slow consumer is dropped with a final `dropped` event; memory stays bounded', async () => {
    const slow = await adminStream('', {}, { paused: true });
    const fast = await adminStream();
    await waitUntil(() => events.subscriberCount >= 2, 'two subscribers');
    const pad = 'x'.repeat(16 * 1024);
    // The paused reader's socket buffers fill (their size is the kernel's), then its 500-event ring window: publish
    // rounds of 100 until it is dropped (bounded: 2000 rounds = 3 GiB would be a failure).
    let n = 0;
    for (let round = 0; round < 2000 && events.subscriberCount > 1; round++) {
      for (let i = 0; i < 100; i++) events.emit('boot-session', { ...probe(n++), error: pad });
      await events.flush();
    }
    expect(events.subscriberCount).toBe(1);
    const lastId = `s-${n - 1}`;
    await fast.waitFor((c) => c.ofType('boot-session').some((m) => m.data.body.sessionId === lastId), 'fast got all', 30_000);
    expect(fast.ofType('boot-session').filter((m) => m.data.body.error === pad)).toHaveLength(n);
    slow.resume();
    await slow.waitFor((c) => c.ended, 'slow stream ended', 30_000);
    const last = slow.messages[slow.messages.length - 1];
    expect(last.event).toBe('dropped');
    expect(last.data.body.reason).toMatch(/slow consumer/);
    expect(fast.ofType('dropped')).toEqual([]);
  });
});

describe('events across two DLS nodes on one database (e2e)', () => {
  let a: TestApp;
  let b: TestApp;
  let urlB: string;
  beforeAll(async () => {
    // Two nodes on one database each need a name of their own (both run on this host: the host name is taken once).
    a = await createTestApp({ DLS_NODE_NAME: 'events-a' });
    b = await createTestApp({ DLS_NODE_NAME: 'events-b', DATABASE_URL: a.config.database.url! });
    urlB = await listen(b);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it("node B's subscriber sees node A's events (LISTEN/NOTIFY)", async () => {
    const c = await SseClient.open(`${urlB}/api/v1/events?ticket=${await ticketFor(b, b.adminToken)}`);
    try {
      expect(c.status).toBe(200);
      const ea = a.app.get(EventsService);
      const eb = b.app.get(EventsService);
      expect(ea.node).not.toBe(eb.node);
      await ea.publish('boot-session', probe(42));
      await c.waitFor((x) => x.ofType('boot-session').some((m) => m.data.body.sessionId === 's-42'), "A's event on B");
      const m = c.ofType('boot-session').find((x) => x.data.body.sessionId === 's-42')!;
      expect(m.data.node).toBe(ea.node);
    } finally {
      c.close();
    }
  });
});

async function waitUntil(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
