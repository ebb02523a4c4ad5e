import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import { Client as PgClient, Notification } from 'pg';
import { DataSource } from 'typeorm';
import type { Principal } from '@common/auth/auth.decorators';
import { ROLE_RANK } from '@common/auth/auth.decorators';
import { Role } from '@common/auth/role';
import { AppConfig } from '@config/config.loader';
import { BoundedBuffer } from './bounded-buffer';
import { EventHub, EventSubscriber, SseSink } from './event-subscriber';
import type { EventBodies, EventPublisher, EventType, PublishOptions, StoredEvent } from './event-types';

/** The PostgreSQL channel every node NOTIFYs and LISTENs on. */
export const EVENTS_CHANNEL = 'dls_events';
/** Events waiting to be written, per process; beyond it the oldest are dropped. */
export const PUBLISH_BUFFER = 10_000;
/** Rows per INSERT … NOTIFY statement. */
const BATCH = 250;
/** A buffered event waits at most this long before its batch is written. */
const FLUSH_DELAY_MS = 10;
const HEARTBEAT_MS = 15_000;
const PRUNE_MS = 60_000;
const DROP_LOG_MS = 10_000;
const REPLAY_PAGE = 500;
const LISTEN_RETRY_MS = 1_000;

interface Pending {
  type: EventType;
  minRole: Role;
  at: Date;
  body: Record<string, unknown>;
  done?: () => void;
}

interface EventRow {
  id: string;
  type: EventType;
  at: Date;
  node: string;
  min_role: Role;
  body: Record<string, unknown>;
}

const toEvent = (r: EventRow): StoredEvent => ({
  id: String(r.id),
  type: r.type,
  at: new Date(r.at),
  node: r.node,
  minRole: r.min_role,
  body: r.body,
});
const rolesUpTo = (role: Role): Role[] => Object.values(Role).filter((r) => ROLE_RANK[r] <= ROLE_RANK[role]);

/**
 * The live event stream, through PostgreSQL so every node sees every node's events.
 *
 * Publishing: {@link emit} (the {@link EventPublisher} port) appends to a bounded buffer and never blocks; batches of
 * up to {@link BATCH} are written by one statement that inserts the rows into `events` and `NOTIFY dls_events`
 * with `{node, first id, last id}` — the notification is delivered at commit, so the rows are visible to whoever
 * hears it. Batches run one at a time. A full buffer drops its oldest events (counted; one log line per interval).
 *
 * Delivery: one dedicated `pg` connection per process LISTENs; each notification's rows are read once and fanned
 * out to this process's subscribers (own batches straight from the insert's RETURNING). The table is the resume
 * window for `Last-Event-ID`, pruned every minute to the newest N and the last T (`DLS_EVENTS_MAX_COUNT`, `DLS_EVENTS_MAX_AGE`).
 */
@Injectable()
export class EventsService implements EventPublisher, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(EventsService.name);
  /** This process, as stored in `events.node` (unique even for two apps in one process). */
  readonly node = `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`.slice(0, 128);
  private readonly buffer = new BoundedBuffer<Pending>(PUBLISH_BUFFER);
  private readonly hub: EventHub;
  private flushTimer?: NodeJS.Timeout;
  private flushing: Promise<void> | null = null;
  private deliveries: Promise<void> = Promise.resolve();
  private listener?: PgClient;
  private listenRetry?: NodeJS.Timeout;
  private readonly otherNodesListeners: (() => void)[] = [];
  private timers: NodeJS.Timeout[] = [];
  private droppedLogged = 0;
  private lastDropLogMs = 0;
  private stopped = false;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly config: AppConfig,
  ) {
    this.hub = new EventHub(config.events.subscriberQueue);
  }

  async onApplicationBootstrap(): Promise<void> {
    this.stopped = false;
    await this.listen();
    const heartbeat = setInterval(() => this.hub.heartbeat(), HEARTBEAT_MS);
    const prune = setInterval(() => void this.prune(), PRUNE_MS);
    this.timers = [heartbeat, prune];
    for (const t of this.timers) t.unref();
  }

  /** Writes what is buffered, then stops listening and ends every stream (before the database goes away). */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    if (this.listenRetry) clearTimeout(this.listenRetry);
    await this.flush();
    await this.deliveries;
    this.hub.closeAll();
    const l = this.listener;
    this.listener = undefined;
    await l?.end().catch(() => undefined);
  }

  // ---- publishing ------------------------------------------------------------------------------------------------

  /** Fire and forget (hot paths): buffered, written within ~{@link FLUSH_DELAY_MS}. Never throws. */
  emit<T extends EventType>(type: T, body: EventBodies[T], options: PublishOptions = {}): void {
    this.enqueue({ type, body: body as unknown as Record<string, unknown>, minRole: options.minRole ?? Role.Viewer, at: new Date() });
  }

  /** Publishes and resolves once the event is stored and notified (or dropped / failed: logged, never thrown). */
  publish<T extends EventType>(type: T, body: EventBodies[T], options: PublishOptions = {}): Promise<void> {
    const raw = body as unknown as Record<string, unknown>;
    return new Promise((done) => this.enqueue({ type, body: raw, minRole: options.minRole ?? Role.Viewer, at: new Date(), done }));
  }

  /** Events dropped because the publish buffer was full, since start. */
  get droppedCount(): number {
    return this.buffer.dropped;
  }

  /** Live subscribers of this process. */
  get subscriberCount(): number {
    return this.hub.size;
  }

  private enqueue(p: Pending): void {
    if (this.stopped) return p.done?.();
    if (!this.buffer.push(p)) this.noteDrop();
    if (this.buffer.size >= BATCH) this.scheduleFlush(0);
    else this.scheduleFlush(FLUSH_DELAY_MS);
  }

  private noteDrop(): void {
    const now = Date.now();
    if (now - this.lastDropLogMs < DROP_LOG_MS) return;
    this.logger.warn(`event buffer full (${PUBLISH_BUFFER}): ${this.buffer.dropped - this.droppedLogged} oldest events dropped`);
    this.droppedLogged = this.buffer.dropped;
    this.lastDropLogMs = now;
  }

  private scheduleFlush(delayMs: number): void {
    if (this.flushing) return; // the running flush loops until the buffer is empty
    if (this.flushTimer && delayMs > 0) return;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = setTimeout(() => void this.flush(), delayMs);
    this.flushTimer.unref();
  }

  /** Writes every buffered event, batch by batch (one flush at a time). */
  flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.flushing ??= (async () => {
      try {
        while (this.buffer.size) await this.writeBatch(this.buffer.take(BATCH));
      } finally {
        this.flushing = null;
      }
    })();
    return this.flushing;
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    try {
      const records = batch.map((p) => ({ type: p.type, min_role: p.minRole, at: p.at.toISOString(), body: p.body }));
      const rows = await this.ds.query<EventRow[]>(
        `WITH ins AS (
           INSERT INTO events (type, node, min_role, at, body)
           SELECT t.type, $1, t.min_role, t.at, t.body
             FROM jsonb_to_recordset($2::jsonb) AS t(type varchar, min_role varchar, at timestamptz, body jsonb)
           RETURNING id, type, at, node, min_role, body
         ), note AS (
           SELECT pg_notify('${EVENTS_CHANNEL}', json_build_object('n', $1::text, 'a', min(id), 'b', max(id))::text) FROM ins
         )
         SELECT ins.*, (SELECT count(*) FROM note) AS notified FROM ins ORDER BY id`,
        [this.node, JSON.stringify(records)],
      );
      const events = rows.map(toEvent);
      this.deliveries = this.deliveries.then(() => this.hub.deliver(events));
    } catch (err) {
      this.logger.error(`could not store ${batch.length} events: ${errText(err)}`);
    } finally {
      for (const p of batch) p.done?.();
    }
  }

  onOtherNodesPublished(listener: () => void): void {
    this.otherNodesListeners.push(listener);
  }

  // ---- LISTEN ----------------------------------------------------------------------------------------------------

  private async listen(): Promise<void> {
    const url = (this.ds.options as { url?: string }).url;
    const client = new PgClient({ connectionString: url, application_name: 'dls-events' });
    client.on('notification', (n) => this.onNotification(n));
    client.on('error', (err) => {
      this.logger.warn(`event listener connection failed: ${err.message}; reconnecting`);
      this.relisten(client);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
      this.listener = client;
    } catch (err) {
      this.logger.warn(`could not LISTEN for events: ${errText(err)}; retrying`);
      this.relisten(client);
    }
  }

  private relisten(old: PgClient): void {
    void old.end().catch(() => undefined);
    if (this.listener === old) this.listener = undefined;
    if (this.stopped || this.listenRetry) return;
    this.listenRetry = setTimeout(() => {
      this.listenRetry = undefined;
      if (!this.stopped) void this.listen();
    }, LISTEN_RETRY_MS);
    this.listenRetry.unref();
  }

  private onNotification(n: Notification): void {
    if (n.channel !== EVENTS_CHANNEL || !n.payload) return;
    let note: { n?: unknown; a?: unknown; b?: unknown };
    try {
      note = JSON.parse(n.payload) as typeof note;
    } catch {
      return;
    }
    if (note.n === this.node || typeof note.n !== 'string') return; // own batches are delivered from the insert
    for (const l of this.otherNodesListeners) {
      try {
        l();
      } catch (err) {
        this.logger.warn(`a listener for other nodes' events failed: ${errText(err)}`);
      }
    }
    const [node, first, last] = [note.n, String(note.a), String(note.b)];
    if (!/^\d+$/.test(first) || !/^\d+$/.test(last) || this.hub.size === 0) return;
    this.deliveries = this.deliveries.then(async () => {
      try {
        const rows = await this.ds.query<EventRow[]>(
          'SELECT id, type, at, node, min_role, body FROM events WHERE node = $1 AND id BETWEEN $2 AND $3 ORDER BY id',
          [node, first, last],
        );
        this.hub.deliver(rows.map(toEvent));
      } catch (err) {
        this.logger.warn(`could not read events ${first}..${last} of ${node}: ${errText(err)}`);
      }
    });
  }

  // ---- subscribers -----------------------------------------------------------------------------------------------

  /**
   * Opens a stream for `user` on `sink`: with `lastEventId`, first replays what the table holds after it (a `reset`
   * event when it is older than the window), while live events are held; then live events. Resolves once live.
   */
  async subscribe(user: Principal, sink: SseSink, lastEventId: string | null, onClosed?: () => void): Promise<EventSubscriber> {
    const sub = this.hub.subscribe(sink, user.role, () => onClosed?.());
    if (lastEventId === null) return sub;
    sub.beginReplay();
    try {
      await this.replay(sub, lastEventId);
    } catch (err) {
      this.logger.warn(`resume from ${lastEventId} failed: ${errText(err)}`);
      sub.control('reset', { reason: 'the server could not resume the stream; reload' });
    }
    sub.endReplay();
    return sub;
  }

  private async replay(sub: EventSubscriber, lastEventId: string): Promise<void> {
    const [w] = await this.ds.query<{ first: string | null; last: string }[]>(
      'SELECT min(id) AS first, (SELECT last_value FROM events_id_seq) AS last FROM events',
    );
    const after = BigInt(lastEventId);
    const gone = w.first === null ? after < BigInt(w.last) : after < BigInt(w.first) - 1n;
    if (gone) {
      sub.control('reset', { reason: `event ${lastEventId} is older than the resume window; reload`, lastEventId });
      return;
    }
    const roles = rolesUpTo(sub.role);
    let cursor = lastEventId;
    while (!sub.closed) {
      const rows = await this.ds.query<EventRow[]>(
        'SELECT id, type, at, node, min_role, body FROM events WHERE id > $1 AND min_role = ANY($2) ORDER BY id LIMIT $3',
        [cursor, roles, REPLAY_PAGE],
      );
      for (const r of rows) await sub.replay(toEvent(r));
      if (rows.length < REPLAY_PAGE) return;
      cursor = String(rows[rows.length - 1].id);
    }
  }

  /**
   * Id of the newest event published so far (the sequence's last value; null before the first): a snapshot read
   * after it, resumed from it with `Last-Event-ID`, misses nothing — every later change comes as an event after it.
   */
  async latestId(): Promise<string | null> {
    const [r] = await this.ds.query<{ id: string | null }[]>('SELECT CASE WHEN is_called THEN last_value END AS id FROM events_id_seq');
    return r?.id === null || r?.id === undefined ? null : String(r.id);
  }

  // ---- retention -------------------------------------------------------------------------------------------------

  /** Deletes events outside the window (older than the retention time, or beyond the newest N). One statement. */
  async prune(): Promise<void> {
    try {
      await this.ds.query(
        `DELETE FROM events WHERE at < now() - make_interval(secs => $1)
            OR id <= (SELECT id FROM events ORDER BY id DESC OFFSET $2 LIMIT 1)`,
        [this.config.events.retentionSec, this.config.events.retentionCount],
      );
    } catch (err) {
      this.logger.warn(`event prune failed: ${errText(err)}`);
    }
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
