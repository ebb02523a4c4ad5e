import { DataSource } from 'typeorm';
import { clientBody, imageBody, makeClient, makeImage, rangeBody, unique } from '../factories';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(180_000);

/**
 * Optimistic concurrency on every editable resource: GET, PATCH and POST (create) send `ETag: "<version>"`; a PATCH
 * with `If-Match` is made only while the record is still at that version (412 naming If-Match otherwise, 400 for a
 * malformed header), and two PATCHes racing with the same If-Match end with exactly one winner. Without If-Match (or
 * with `*`) a PATCH works as before.
 */
interface Resource {
  name: string;
  /** Collection URL. */
  base: string;
  /** Creates a fresh record through the API; returns the POST answer. */
  create(): Promise<{ status: number; headers: Record<string, string>; body: { id: string; version: number } }>;
  /** The i-th change, each legal after the ones before it on the same record and visible in `field`. */
  change(i: number): Record<string, unknown>;
  /** Two different changes, each legal on a fresh record. */
  race(i: number): [Record<string, unknown>, Record<string, unknown>];
  /** The field the changes set (to see which one won). */
  field: string;
}

describe('ETag and If-Match (e2e)', () => {
  let t: TestApp;
  let ds: DataSource;
  const admin = () => ({ Authorization: `Bearer ${t.adminToken}` });
  const post = (url: string, body: object) => t.http.post(url).set(admin()).send(body);
  let nets = 0;

  const resources: Resource[] = [
    {
      name: 'images',
      base: '/api/v1/images',
      create: () => post('/api/v1/images', imageBody()),
      change: (i) => ({ description: `change ${i}` }),
      race: (i) => [{ description: `race ${i} a` }, { description: `race ${i} b` }],
      field: 'description',
    },
    {
      name: 'clients',
      base: '/api/v1/clients',
      create: () => post('/api/v1/clients', clientBody()),
      change: (i) => ({ hostname: `etag-change-${i}` }),
      race: (i) => [{ hostname: `etag-race-${i}-a` }, { hostname: `etag-race-${i}-b` }],
      field: 'hostname',
    },
    {
      name: 'client groups',
      base: '/api/v1/client-groups',
      create: () => post('/api/v1/client-groups', { name: unique('room') }),
      change: (i) => ({ description: `change ${i}` }),
      race: (i) => [{ description: `race ${i} a` }, { description: `race ${i} b` }],
      field: 'description',
    },
    {
      name: 'network ranges',
      base: '/api/v1/network-ranges',
      // Ranges may not overlap: each gets its own /24.
      create: () => post('/api/v1/network-ranges', rangeBody({ cidr: `10.${100 + ++nets}.0.0/24` })),
      change: (i) => ({ leaseSeconds: 600 + i }),
      race: (i) => [{ leaseSeconds: 1000 + i }, { leaseSeconds: 2000 + i }],
      field: 'leaseSeconds',
    },
    {
      name: 'users',
      base: '/api/v1/users',
      create: () => post('/api/v1/users', { username: unique('u'), password: 'etag-user-password-1', role: 'viewer' }),
      change: (i) => ({ role: ['operator', 'viewer', 'admin'][i % 3] }),
      race: () => [{ role: 'operator' }, { role: 'admin' }],
      field: 'role',
    },
    {
      name: 'boot sessions',
      base: '/api/v1/boot-sessions',
      create: async () => post('/api/v1/boot-sessions', { clientId: (await makeClient(ds, { assignedImageId: (await makeImage(ds)).id })).id }),
      change: (i) => ({ status: ['booting', 'running', 'shutdown'][i] }),
      race: () => [{ status: 'booting' }, { status: 'error', errorMessage: 'lost the race' }],
      field: 'status',
    },
    {
      name: 'wake schedules',
      base: '/api/v1/wake-schedules',
      create: async () => {
        const g = await post('/api/v1/client-groups', { name: unique('wake') });
        return post('/api/v1/wake-schedules', { groupId: g.body.id, days: ['mon'], time: '07:45', timezone: 'UTC' });
      },
      // days and time go together (a time alone is a 400 SCHEDULE_INVALID)
      change: (i) => ({ days: ['mon'], time: `0${i + 1}:15` }),
      race: (i) => [
        { days: ['mon'], time: `1${i}:00` },
        { days: ['mon'], time: `1${i}:30` },
      ],
      field: 'time',
    },
  ];

  beforeAll(async () => {
    t = await createTestApp();
    ds = t.app.get(DataSource);
  });
  afterAll(async () => {
    await t?.close();
  });

  describe.each(resources.map((r) => [r.name, r] as const))('%s', (_name, r) => {
    const url = (id: string) => `${r.base}/${id}`;
    const get = (id: string) => t.http.get(url(id)).set(admin());
    const patch = (id: string, body: object, ifMatch?: string) => {
      const req = t.http.patch(url(id)).set(admin());
      if (ifMatch !== undefined) req.set('If-Match', ifMatch);
      return req.send(body);
    };
    const fresh = async () => {
      const created = await r.create();
      expect(created.status).toBe(201);
      return created;
    };

    it('GET, PATCH and POST send the ETag, "<version>", and it changes with each edit', async () => {
      const created = await fresh();
      expect(created.headers.etag).toBe(`"${created.body.version}"`);
      const id = created.body.id;

      const read = await get(id).expect(200);
      expect(read.headers.etag).toBe(created.headers.etag);
      expect(read.headers.etag).toBe(`"${read.body.version}"`);

      const edited = await patch(id, r.change(0), read.headers.etag).expect(200);
      expect(edited.headers.etag).toMatch(/^"\d+"$/);
      expect(edited.headers.etag).not.toBe(read.headers.etag);
      expect(edited.body[r.field]).toEqual(r.change(0)[r.field]);
      expect((await get(id).expect(200)).headers.etag).toBe(edited.headers.etag);
    });

    it('a stale If-Match is a 412 naming If-Match and changes nothing; a malformed one is a 400', async () => {
      const { body } = await fresh();
      const before = await get(body.id).expect(200);
      await patch(body.id, r.change(0), before.headers.etag).expect(200);
      const now = await get(body.id).expect(200);

      const stale = await patch(body.id, r.change(1), before.headers.etag).expect(412);
      expect(stale.body).toMatchObject({
        statusCode: 412,
        error: 'PRECONDITION_FAILED',
        code: 'PRECONDITION_FAILED',
        details: { precondition: 'If-Match' },
      });
      expect(stale.body.message).toContain('If-Match');
      const after = await get(body.id).expect(200);
      expect(after.headers.etag).toBe(now.headers.etag);
      expect(after.body[r.field]).toEqual(now.body[r.field]);

      // Other tags than ours, weak tags (never equal under the strong comparison If-Match uses): 412 too.
      await patch(body.id, r.change(1), '"no-such-version"').expect(412);
      await patch(body.id, r.change(1), `W/${now.headers.etag}`).expect(412);

      for (const malformed of ['3', `${now.headers.etag},`.replace(/"/g, ''), '"unterminated', 'W/3', '', '"a" "b"']) {
        const res = await patch(body.id, r.change(1), malformed);
        expect([res.status, res.body.code, res.body.details]).toEqual([400, 'INVALID_IF_MATCH', { header: 'If-Match' }]);
      }
      expect((await get(body.id).expect(200)).headers.etag).toBe(now.headers.etag);
    });

    it('without If-Match, with "*" or with a list naming the current ETag, the edit is made', async () => {
      const { body } = await fresh();
      const e0 = (await get(body.id).expect(200)).headers.etag;
      const e1 = (await patch(body.id, r.change(0)).expect(200)).headers.etag;
      expect(e1).not.toBe(e0);
      const e2 = (await patch(body.id, r.change(1), '*').expect(200)).headers.etag;
      expect(e2).not.toBe(e1);
      const e3 = (await patch(body.id, r.change(2), `"0", W/${e2}, ${e2}`).expect(200)).headers.etag;
      expect(e3).not.toBe(e2);
    });

    it('two PATCHes racing with the same If-Match: exactly one wins, the other gets 412', async () => {
      for (let round = 0; round < 3; round++) {
        const { body } = await fresh();
        const etag = (await get(body.id).expect(200)).headers.etag;
        const [a, b] = r.race(round);
        const results = await Promise.all([patch(body.id, a, etag), patch(body.id, b, etag)]);
        expect(results.map((x) => x.status).sort()).toEqual([200, 412]);
        const winner = results.find((x) => x.status === 200)!;
        const final = await get(body.id).expect(200);
        expect(final.headers.etag).toBe(winner.headers.etag);
        expect(final.body[r.field]).toEqual(winner.body[r.field]);
      }
    });

    it('an unknown id is still a 404, whatever If-Match says', async () => {
      const res = await patch('00000000-0000-4000-8000-000000000000', r.change(0), '"1"');
      expect(res.status).toBe(404);
    });
  });
});
