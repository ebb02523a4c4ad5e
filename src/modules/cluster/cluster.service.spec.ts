import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '@config/config.loader';
import { ClusterService } from './cluster.service';

beforeAll(() => Logger.overrideLogger(false));

/**
 * A stand-in for PostgreSQL that answers the statements ClusterService sends (register, claim, heartbeat) and can be
 * made unreachable: what a node does when its database goes away is the point of these cases.
 */
class FakeDb {
  down = false;
  holder: string | null = null;
  epoch = 0;
  readonly sent: string[] = [];
  private answer(sql: string, params: unknown[] = []): unknown {
    this.sent.push(sql.trim().split(/\s+/).slice(0, 3).join(' '));
    if (this.down) throw new Error('connection refused');
    if (sql.includes('INSERT INTO nodes')) return [{ id: 'node-1', state: 'active' }];
    if (sql.includes('INSERT INTO range_owners')) {
      const [nodeId, ids] = params as [string, string[]];
      if (this.holder !== null && this.holder !== nodeId) return [];
      this.holder = nodeId;
      this.epoch++;
      return ids.map((id) => ({ range_id: id, epoch: String(this.epoch), name: 'room' }));
    }
    if (sql.includes('UPDATE nodes SET heartbeat_at')) return [[{ state: 'active' }], 1];
    if (sql.includes('UPDATE range_owners SET expires_at = now() + make_interval')) {
      const [nodeId, ids] = params as [string, string[]];
      return [this.holder === nodeId ? ids.map((id) => ({ range_id: id, epoch: String(this.epoch) })) : [], 1];
    }
    return [[], 0];
  }
  readonly ds = {
    query: (sql: string, params?: unknown[]) => Promise.resolve().then(() => this.answer(sql, params)),
    transaction: <T>(fn: (m: { query: DataSource['query'] }) => Promise<T>) =>
      fn({ query: ((sql: string, params?: unknown[]) => Promise.resolve().then(() => this.answer(sql, params))) as DataSource['query'] }),
  } as unknown as DataSource;
}

const config = (leaseMs: number) =>
  ({ node: { name: 'node-1', leaseMs, capacity: 10 }, dataDir: '/nonexistent', http: { port: 3000 } }) as unknown as AppConfig;

async function until(what: string, probe: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('ClusterService', () => {
  let svc: ClusterService | null = null;
  afterEach(async () => {
    await svc?.onApplicationShutdown();
    svc = null;
  });

  it('stops answering for its range within the lease when the database goes away, and says so', async () => {
    const db = new FakeDb();
    svc = new ClusterService(db.ds, config(2_000));
    await svc.onModuleInit();
    svc.onApplicationBootstrap();
    let changes = 0;
    svc.onChange(() => changes++);
    expect([...(await svc.want(['r1']))]).toEqual(['r1']);
    const since = performance.now();
    db.down = true; // every beat fails from now on
    await until('the hold to end', () => !svc!.holds('r1'));
    const held = performance.now() - since;
    expect(held).toBeLessThan(2_000); // lease 2 s, margin 1 s: it stops after ~1 s of silence, well inside the lease
    await until('the listener (DHCP reloads and closes the range)', () => changes > 0);
    // The database is back: the node takes its range again at a beat (no other holder).
    db.down = false;
    await until('the range back', () => svc!.holds('r1'));
  });

  it('a renewal the database refuses (another node holds the range) drops the hold at once', async () => {
    const db = new FakeDb();
    svc = new ClusterService(db.ds, config(10_000));
    await svc.onModuleInit();
    svc.onApplicationBootstrap();
    expect([...(await svc.want(['r1']))]).toEqual(['r1']);
    db.holder = 'node-2'; // as after a takeover the node missed (it was stalled past its lease)
    await until('the hold to be dropped', () => !svc!.holds('r1'), 5_000);
  });

  it('never takes a range another live node holds', async () => {
    const db = new FakeDb();
    db.holder = 'node-2';
    svc = new ClusterService(db.ds, config(10_000));
    await svc.onModuleInit();
    expect([...(await svc.want(['r1']))]).toEqual([]);
    expect(svc.holds('r1')).toBe(false);
  });
});
