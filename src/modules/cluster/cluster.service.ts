import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as os from 'node:os';
import { DataSource } from 'typeorm';
import { AppConfig } from '@config/config.loader';
import { updatedRows } from '@database/updated-rows';
import { ConflictError, DomainError, NotFoundError } from '@common/errors/domain-error';
import { EVENT_PUBLISHER, EventPublisher, RangeHolderEventBody } from '../events';
import { DlsMetrics } from '../metrics';
import { DlsNode, NodeState } from './node.entity';
import { RangeHolds } from './range-holds';

/** What the DHCP server asks about range ownership (see {@link ClusterService}). */
export interface RangeOwnershipPort {
  /**
   * The ranges this node could serve now (enabled, interface usable here): it takes those no live node holds and
   * returns the ids it holds after that.
   */
  want(rangeIds: readonly string[]): Promise<Set<string>>;
  /** This node may answer DHCP for the range at this instant (O(1)). */
  holds(rangeId: string): boolean;
  /** Called (without arguments) when a hold is gained or lost outside {@link want}: serve again. */
  onChange(listener: () => void): void;
  /** The node that holds each range (for ranges this node does not serve), by range id. */
  holders(rangeIds: readonly string[]): Promise<Map<string, string>>;
}

export const RANGE_OWNERSHIP = Symbol('dls:rangeOwnership');

/** The DLS version: the package root's package.json (above src/ under ts-node, above dist/src/ when built). */
const VERSION: string = (() => {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
})();

/** A node as `GET /nodes` shows it. */
export interface NodeView extends DlsNode {
  healthy: boolean;
  self: boolean;
  ranges: { rangeId: string; name: string; epoch: string; expiresAt: Date }[];
  /** Boot sessions `running` whose boot server address is one of this node's (its tgtd serves their disks). */
  runningClients: number;
}

/** This host's IPv4 addresses, sorted, with `first` (DLS_NODE_ADDRESS: where the other nodes reach this one) ahead. */
function addressesHere(first: string | null): string[] {
  const out: string[] = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal && a.address !== first) out.push(a.address);
  }
  out.sort();
  return first ? [first, ...out] : out;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * This process as a node of a DLS cluster: several DLS processes on one PostgreSQL (`DATABASE_URL`), each with its own
 * storage and boot networks. With the embedded database (the default) it is the one node, and holds every range it
 * serves at once — nothing changes for a single server.
 *
 * - **Registration and heartbeat.** At start the node upserts its `nodes` row by name (`DLS_NODE_NAME`, default the
 *   host name) — refused when another live process (another host or data directory) has that name — and beats every
 *   fifth of `DLS_NODE_LEASE` in the database's clock.
 * - **One DHCP server per range.** A range is held through `range_owners`: DHCP calls {@link want} with the ranges
 *   whose interface it could serve; the node takes each one whose hold has expired (or that it holds already) in one
 *   statement, and renews what it holds at every beat. {@link RangeHolds} stops it answering before any other node
 *   may take over, whether or not the renewal's answer arrives. A standby retries at every beat, so a dead holder's
 *   ranges move within a lease and a beat. On shutdown the node gives its ranges back at once.
 * - **Draining** (`POST /nodes/:id/drain`): the node gives its ranges back and takes none; its running clients keep
 *   their disks (its tgtd stays), and `runningClients` counts them down to 0: then it can be stopped and removed.
 */
@Injectable()
export class ClusterService implements RangeOwnershipPort, OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Cluster');
  readonly leaseMs: number;
  private readonly holdsTable: RangeHolds;
  private nodeId: string | null = null;
  private state: NodeState = 'active';
  private wanted = new Set<string>();
  private readonly listeners: (() => void)[] = [];
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;
  private stopped = false;
  private beatFailures = 0;
  private chain: Promise<void> = Promise.resolve();
  private takeoverGate: () => boolean = () => true;
  private gateLogged = false;

  /** Names of the ranges this node held, for its events. */
  private readonly rangeNames = new Map<string, string>();

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly config: AppConfig,
    @Optional() @Inject(EVENT_PUBLISHER) private readonly events?: EventPublisher,
    @Optional() private readonly metrics?: DlsMetrics,
  ) {
    this.leaseMs = config.node.leaseMs;
    this.holdsTable = new RangeHolds(this.leaseMs);
    metrics?.setRangeHoldsSource(() => new Map(this.holdsTable.held().map((id) => [this.rangeNames.get(id) ?? id, true])));
  }

  /** This node's id (null until registered). */
  get id(): string | null {
    return this.nodeId;
  }

  /** Registers at module init: before any module's start-up work asks who this node is (see ImageContentService). */
  async onModuleInit(): Promise<void> {
    await this.register();
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.beat(), Math.max(200, Math.floor(this.leaseMs / 5)));
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.beating?.catch(() => undefined);
    const held = this.holdsTable.known();
    for (const id of this.holdsTable.drop(held)) this.publish(id, 'handed-back', null); // stop answering first, then tell the others
    if (!this.nodeId) return;
    try {
      // Ended, not deleted: the row keeps its epoch, so the next holder's hold counts as a hand-over.
      await this.ds.query(`UPDATE range_owners SET expires_at = now() - interval '1 millisecond' WHERE node_id = $1`, [this.nodeId]);
      await this.ds.query(`UPDATE nodes SET state = CASE WHEN state = 'draining' THEN state ELSE 'stopped' END WHERE id = $1`, [this.nodeId]);
      if (held.length > 0) this.logger.log(`handed back ${held.length} range(s) on shutdown`);
    } catch (err) {
      this.logger.warn(`could not hand back ranges on shutdown (they move when the lease ends): ${errText(err)}`);
    }
  }

  holds(rangeId: string): boolean {
    return this.holdsTable.holds(rangeId);
  }

  /**
   * What must hold before this node takes a range it does not hold yet (replication: every version the other nodes
   * hold is here and verified). Held ranges are renewed regardless.
   */
  setTakeoverGate(gate: () => boolean): void {
    this.takeoverGate = gate;
  }

  private mayTakeRanges(): boolean {
    const ok = this.takeoverGate();
    if (!ok && !this.gateLogged) this.logger.log('takes no range yet: waiting for the image versions the other nodes hold');
    this.gateLogged = !ok;
    return ok;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  want(rangeIds: readonly string[]): Promise<Set<string>> {
    return this.serially(async () => {
      this.wanted = new Set(rangeIds);
      // Held ranges DHCP no longer wants (disabled, deleted, interface gone) are handed back.
      const unwanted = this.holdsTable.known().filter((id) => !this.wanted.has(id));
      if (unwanted.length > 0) await this.release(unwanted);
      if (this.nodeId && this.state === 'active' && !this.stopped && this.mayTakeRanges())
        await this.claim([...this.wanted].filter((id) => !this.holdsTable.holds(id)));
      return new Set(this.holdsTable.held().filter((id) => this.wanted.has(id)));
    });
  }

  /** Runs `fn` after every earlier want() and heartbeat: one statement about this node's holds at a time. */
  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async holders(rangeIds: readonly string[]): Promise<Map<string, string>> {
    if (rangeIds.length === 0) return new Map();
    const rows = await this.ds.query<{ range_id: string; name: string }[]>(
      `SELECT o.range_id, n.name FROM range_owners o JOIN nodes n ON n.id = o.node_id WHERE o.range_id = ANY($1::uuid[]) AND o.expires_at > now()`,
      [rangeIds],
    );
    return new Map(rows.map((r) => [r.range_id, r.name]));
  }

  // ---- API ---------------------------------------------------------------------------------------------------------

  async list(): Promise<NodeView[]> {
    const leaseSec = this.leaseMs / 1000;
    const nodes = await this.ds.query<(Record<string, unknown> & { id: string; healthy: boolean; running: number })[]>(
      `SELECT n.*, (n.state <> 'stopped' AND n.heartbeat_at > now() - make_interval(secs => $1)) AS healthy,
              (SELECT count(*)::int FROM boot_sessions s WHERE s.status = 'running' AND host(s.boot_server_ip) = ANY(n.addresses)) AS running
         FROM nodes n ORDER BY n.name`,
      [leaseSec],
    );
    const holds = await this.ds.query<{ node_id: string; range_id: string; name: string; epoch: string; expires_at: Date }[]>(
      `SELECT o.node_id, o.range_id, r.name, o.epoch::text AS epoch, o.expires_at FROM range_owners o JOIN network_ranges r ON r.id = o.range_id
        WHERE o.expires_at > now() ORDER BY r.name`,
    );
    return nodes.map((n) => ({
      id: n.id,
      name: n.name as string,
      instance: n.instance as string,
      addresses: n.addresses as string[],
      httpPort: n.http_port as number,
      capacity: n.capacity as number,
      state: n.state as NodeState,
      dlsVersion: n.dls_version as string,
      startedAt: n.started_at as Date,
      heartbeatAt: n.heartbeat_at as Date,
      createdAt: n.created_at as Date,
      healthy: n.healthy,
      self: n.id === this.nodeId,
      ranges: holds.filter((h) => h.node_id === n.id).map((h) => ({ rangeId: h.range_id, name: h.name, epoch: h.epoch, expiresAt: h.expires_at })),
      runningClients: n.running,
    }));
  }

  async get(id: string): Promise<NodeView> {
    const n = (await this.list()).find((x) => x.id === id);
    if (!n) throw new NotFoundError('node', id, 'NODE_NOT_FOUND');
    return n;
  }

  /** Ids of the nodes that are up (heartbeat within the lease, not stopped), this one included. */
  async liveNodeIds(): Promise<Set<string>> {
    const rows = await this.ds.query<{ id: string }[]>(
      `SELECT id FROM nodes WHERE state <> 'stopped' AND heartbeat_at > now() - make_interval(secs => $1)`,
      [this.leaseMs / 1000],
    );
    return new Set(rows.map((r) => r.id));
  }

  /** Draining (stop taking ranges, hand over the held ones) or active again. The node acts at its next beat. */
  async setState(id: string, state: 'active' | 'draining'): Promise<NodeView> {
    const r = updatedRows(await this.ds.query(`UPDATE nodes SET state = $2 WHERE id = $1 AND state <> 'stopped' RETURNING id`, [id, state]));
    if (r.length === 0) {
      await this.get(id); // 404 when there is no such node
      throw new ConflictError('NODE_STOPPED', `node ${id} is stopped: start it again first`, { nodeId: id });
    }
    if (id === this.nodeId) await this.beat();
    return this.get(id);
  }

  /** Forgets a node that is down (its ranges, if any, are free already); a live one is 409. */
  async remove(id: string): Promise<void> {
    const n = await this.get(id);
    if (n.healthy)
      throw new ConflictError('NODE_ALIVE', `node ${n.name} is running: stop it first (drain it to hand its clients over)`, { nodeId: id });
    await this.ds.query(`DELETE FROM nodes WHERE id = $1`, [id]);
  }

  // ---- internals ---------------------------------------------------------------------------------------------------

  private instance(): string {
    let dir = this.config.dataDir;
    try {
      dir = realpathSync(dir);
    } catch {
      /* not created yet: the configured path names it */
    }
    return createHash('sha256').update(`${os.hostname()}\0${dir}`).digest('hex');
  }

  private async register(): Promise<void> {
    const { name, capacity } = this.config.node;
    const rows = await this.ds.query<{ id: string; state: NodeState }[]>(
      `INSERT INTO nodes (name, instance, addresses, http_port, capacity, state, dls_version, started_at, heartbeat_at)
       VALUES ($1, $2, $3, $4, $5, 'active', $6, now(), now())
       ON CONFLICT (name) DO UPDATE SET instance = EXCLUDED.instance, addresses = EXCLUDED.addresses, http_port = EXCLUDED.http_port,
              capacity = EXCLUDED.capacity, dls_version = EXCLUDED.dls_version, started_at = now(), heartbeat_at = now(),
              state = CASE WHEN nodes.state = 'draining' THEN 'draining' ELSE 'active' END
        WHERE nodes.instance = EXCLUDED.instance OR nodes.state = 'stopped' OR nodes.heartbeat_at < now() - make_interval(secs => $7)
       RETURNING id, state`,
      [name, this.instance(), addressesHere(this.config.node.address), this.config.http.port, capacity, VERSION, this.leaseMs / 1000],
    );
    if (rows.length === 0) {
      throw new DomainError(
        'conflict',
        'NODE_NAME_IN_USE',
        `another DLS node named "${name}" is running on this database (another host or data directory, heartbeat within ${this.leaseMs / 1000} s): give each node its own DLS_NODE_NAME`,
      );
    }
    this.nodeId = rows[0].id;
    this.state = rows[0].state;
    this.logger.log(
      `node "${name}" (${this.nodeId}) registered${this.state === 'draining' ? ', draining' : ''}; range holds last ${this.leaseMs / 1000} s`,
    );
  }

  /** Takes the ranges among `ids` whose hold ended (or is this node's). */
  private async claim(ids: readonly string[]): Promise<void> {
    if (ids.length === 0 || !this.nodeId) return;
    const sentAt = performance.now();
    const rows = await this.ds.query<{ range_id: string; epoch: string; name: string | null }[]>(
      `INSERT INTO range_owners AS o (range_id, node_id, epoch, acquired_at, expires_at)
       SELECT r.id, $1, 1, now(), now() + make_interval(secs => $3) FROM network_ranges r WHERE r.id = ANY($2::uuid[])
       ON CONFLICT (range_id) DO UPDATE SET node_id = EXCLUDED.node_id, expires_at = EXCLUDED.expires_at,
              epoch = CASE WHEN o.node_id = EXCLUDED.node_id AND o.expires_at >= now() THEN o.epoch ELSE o.epoch + 1 END,
              acquired_at = CASE WHEN o.node_id = EXCLUDED.node_id AND o.expires_at >= now() THEN o.acquired_at ELSE now() END
        WHERE o.expires_at < now() OR o.node_id = EXCLUDED.node_id
       RETURNING o.range_id, o.epoch::text AS epoch, (SELECT r.name FROM network_ranges r WHERE r.id = o.range_id) AS name`,
      [this.nodeId, ids, this.leaseMs / 1000],
    );
    for (const r of rows) if (r.name) this.rangeNames.set(r.range_id, r.name);
    const gained = this.holdsTable.confirmed(
      rows.map((r) => ({ rangeId: r.range_id, epoch: r.epoch })),
      sentAt,
    );
    if (gained.length > 0) this.logger.log(`took range(s) ${gained.join(', ')} (epoch ${rows.map((r) => r.epoch).join(', ')})`);
    for (const id of gained) this.publish(id, 'taken', this.holdsTable.epochOf(id));
  }

  private async release(ids: readonly string[]): Promise<void> {
    const dropped = this.holdsTable.drop(ids);
    for (const id of dropped) this.publish(id, 'handed-back', null);
    if (!this.nodeId || ids.length === 0) return;
    await this.ds.query(`UPDATE range_owners SET expires_at = now() - interval '1 millisecond' WHERE node_id = $1 AND range_id = ANY($2::uuid[])`, [
      this.nodeId,
      ids,
    ]);
    if (dropped.length > 0) this.logger.log(`handed back range(s) ${dropped.join(', ')}`);
  }

  /** One heartbeat: renew what is held, take over free wanted ranges, follow the node's state. Never rejects. */
  private beat(): Promise<void> {
    if (this.stopped || !this.nodeId) return Promise.resolve();
    if (this.beating) return this.beating;
    const run = this.serially(() => this.beatOnce())
      .catch((err: unknown) => {
        if (this.beatFailures++ === 0) this.logger.warn(`heartbeat failed (holds end in at most ${this.leaseMs / 1000} s): ${errText(err)}`);
      })
      .finally(() => {
        this.beating = null;
        const expired = this.holdsTable.expire();
        if (expired.length > 0) {
          this.logger.warn(`hold on range(s) ${expired.join(', ')} ran out without renewal: not answering DHCP for them`);
          for (const id of expired) this.publish(id, 'lost', null);
          this.notify();
        }
      });
    this.beating = run;
    return run;
  }

  private async beatOnce(): Promise<void> {
    const known = this.holdsTable.known();
    const sentAt = performance.now();
    const [stateRows, renewed] = await this.ds.transaction(async (m) => {
      const s = updatedRows<{ state: NodeState }>(
        await m.query(`UPDATE nodes SET heartbeat_at = now(), addresses = $2 WHERE id = $1 RETURNING state`, [
          this.nodeId,
          addressesHere(this.config.node.address),
        ]),
      );
      const r =
        known.length === 0
          ? []
          : updatedRows<{ range_id: string; epoch: string }>(
              await m.query(
                `UPDATE range_owners SET expires_at = now() + make_interval(secs => $3) WHERE node_id = $1 AND range_id = ANY($2::uuid[])
                 RETURNING range_id, epoch::text AS epoch`,
                [this.nodeId, known, this.leaseMs / 1000],
              ),
            );
      return [s, r] as const;
    });
    if (this.beatFailures > 0) this.logger.log(`heartbeat works again after ${this.beatFailures} failure(s)`);
    this.beatFailures = 0;
    if (stateRows.length === 0) {
      // Removed from the table while running (DELETE /nodes on a node that looked down): register again.
      this.holdsTable.drop(known);
      await this.register();
      this.notify();
      return;
    }
    this.holdsTable.confirmed(
      renewed.map((r) => ({ rangeId: r.range_id, epoch: r.epoch })),
      sentAt,
    );
    const renewedIds = new Set(renewed.map((r) => r.range_id));
    const refused = this.holdsTable.drop(known.filter((id) => !renewedIds.has(id)));
    for (const id of refused) this.publish(id, 'lost', null);
    let changed = refused.length > 0;
    if (stateRows[0].state !== this.state) {
      this.state = stateRows[0].state;
      this.logger.log(`node state is now ${this.state}`);
    }
    if (this.state !== 'active') {
      if (this.holdsTable.known().length > 0) {
        await this.release(this.holdsTable.known());
        changed = true;
      }
    } else if (this.mayTakeRanges()) {
      const before = new Set(this.holdsTable.held());
      await this.claim([...this.wanted].filter((id) => !before.has(id)));
      if (this.holdsTable.held().some((id) => !before.has(id))) changed = true;
    }
    if (changed) this.notify();
  }

  /** A `range.holder` event for this node and range. */
  private publish(rangeId: string, action: RangeHolderEventBody['action'], epoch: string | null): void {
    this.metrics?.rangeHandovers.inc({ action });
    this.events?.emit('range.holder', { rangeId, range: this.rangeNames.get(rangeId) ?? null, node: this.config.node.name, action, epoch });
  }

  private notify(): void {
    for (const l of this.listeners) {
      try {
        l();
      } catch (err) {
        this.logger.warn(`range hold listener failed: ${errText(err)}`);
      }
    }
  }
}
