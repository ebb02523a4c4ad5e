import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { pipeline, Readable, Transform } from 'node:stream';
import { DataSource } from 'typeorm';
import { AppConfig } from '@config/config.loader';
import { updatedRows } from '@database/updated-rows';
import { ConflictError, DomainError, NotFoundError } from '@common/errors/domain-error';
import { sharedSecret } from '../auth/jwt-secret.module';
import { ClusterService } from '../cluster';
import { EVENT_PUBLISHER, EventPublisher, VersionReplicaEventBody } from '../events';
import { DlsMetrics } from '../metrics';
import { STORAGE_DRIVER, storageCall } from '../storage';
import type { StorageDriver } from '../storage';
import type { OutgoingVersion, VersionStreamFormat } from '../storage/storage-driver';
import { signNodeRequest, verifyNodeRequest } from './node-token';
import type { ReplicaState } from './version-replica.entity';

/** The content route another node pulls a version from (the signed path includes the query). */
export const contentPath = (versionId: string, baseVersionId: string | null): string =>
  `/api/v1/replication/versions/${versionId}/content?base=${baseVersionId ?? ''}`;

const FORMATS: readonly VersionStreamFormat[] = ['raw', 'zfs-full', 'zfs-incremental'];
const TICK_MS = 2_000;
/** Delay (and spacing) of a pass prompted by another node's events. */
const NUDGE_MS = 200;
/**
 * How long shutdown waits for a pass in progress once it is told to stop. A version's hash on zfs-fuse just after a
 * boot storm (a clone of it to mount, read and destroy among ~1,000 busy mounts) took minutes, and DLS never got to
 * stop tgtd: the pass is abandoned instead (the process ends; a hash clone left is swept at the next start, and a
 * version not hashed yet is hashed again then).
 */
const SHUTDOWN_WAIT_MS = 5_000;
/** A copy that gets no byte for this long is abandoned (and retried). */
const STALL_MS = 60_000;
const CONNECT_MS = 5_000;

interface WantedVersion {
  id: string;
  image_id: string;
  image: string;
  name: string;
  sha256: string;
  created_at: Date;
  state: ReplicaState | null;
  attempts: number;
  updated_at: Date | null;
  sources: string[];
}

interface SourceNode {
  id: string;
  name: string;
  addresses: string[];
  http_port: number;
}

/** One row of GET /replication: a version on a node, or `missing` there. */
export interface ReplicaView {
  versionId: string;
  version: string;
  imageId: string;
  image: string;
  nodeId: string;
  node: string;
  state: ReplicaState | 'missing';
  method: string | null;
  sourceNode: string | null;
  baseVersionId: string | null;
  bytesCopied: number;
  sha256: string | null;
  error: string | null;
  attempts: number;
  startedAt: Date | null;
  finishedAt: Date | null;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Image versions across nodes (several DLS processes on one PostgreSQL, each with its own storage).
 *
 * - The node that makes a version records the sha256 of its bytes ({@link recordMade}) and holds it `verified`.
 * - Every other node pulls each version it lacks from a live node that holds it: `GET …/content` on that node's API,
 *   signed with the nodes' shared secret ({@link signNodeRequest}); a ZFS stream (incremental from the newest version
 *   both hold) or the version file. It checks the bytes' sha256 against the recorded one and only then boots clients
 *   from it; a mismatch is destroyed and retried. One copy at a time per node.
 * - A node takes no range before it holds every version a live node holds ({@link ClusterService.setTakeoverGate}).
 * - A version deleted through the API goes from every node at its next tick.
 */
@Injectable()
export class ReplicationService implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Replication');
  private secret = '';
  /** Versions another live node holds that this node does not hold verified (refused for boots here). */
  private missingHere = new Map<string, ReplicaState | 'missing'>();
  /** Versions this node holds verified (to remove them here once deleted from the catalogue). */
  private heldHere = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private again = false;
  private nudge: NodeJS.Timeout | null = null;
  private stopped = false;
  private copying: AbortController | null = null;
  /** Aborted at shutdown: a version's hash stops reading. */
  private readonly stopping = new AbortController();
  private adopted = false;
  private states = new Map<string, number>();
  /** Versions made here whose sha256 is still to be computed (see {@link noteMade}). */
  private readonly toHash = new Map<string, string>();

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly config: AppConfig,
    private readonly cluster: ClusterService,
    @Inject(STORAGE_DRIVER) private readonly driver: StorageDriver,
    @Optional() @Inject(EVENT_PUBLISHER) private readonly events?: EventPublisher,
    @Optional() private readonly metrics?: DlsMetrics,
  ) {
    metrics?.setReplicaStatesSource(() => this.states);
  }

  async onModuleInit(): Promise<void> {
    this.secret = await sharedSecret(this.ds, 'node-secret', null);
    await this.refresh();
    this.cluster.setTakeoverGate(() => this.missingHere.size === 0);
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
    // Another node published something (a version made or verified there, among others): look soon, not at the next
    // poll — at most one such pass per NUDGE_MS, since a boot storm on another node publishes hundreds of events a second.
    this.events?.onOtherNodesPublished?.(() => {
      if (this.nudge || this.stopped) return;
      this.nudge = setTimeout(() => {
        this.nudge = null;
        void this.tick();
      }, NUDGE_MS);
      this.nudge.unref();
    });
    void this.tick();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.nudge) clearTimeout(this.nudge);
    this.copying?.abort(new Error('DLS is shutting down'));
    this.stopping.abort(new Error('DLS is shutting down'));
    const pass = this.ticking;
    if (!pass) return;
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      pass.then(
        () => true,
        () => true,
      ),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), SHUTDOWN_WAIT_MS))),
    ]).finally(() => clearTimeout(timer));
    if (!finished) this.logger.warn(`a replication pass was still running after ${SHUTDOWN_WAIT_MS / 1000} s of shutdown: not waited for`);
  }

  // ---- what other modules ask --------------------------------------------------------------------------------------

  /**
   * The version's content here was just made (createVersion): its sha256 is computed in the background (it reads the
   * whole version: minutes for a large image, so not in the request), then recorded on the version with this node as
   * holding it verified. Other nodes copy it from then on.
   */
  async noteMade(imageId: string, versionId: string): Promise<void> {
    const me = this.cluster.id;
    if (me) {
      await this.ds.query(
        `INSERT INTO version_replicas (version_id, node_id, state, method, started_at, updated_at) VALUES ($1, $2, 'verifying', 'local', now(), now())
         ON CONFLICT (version_id, node_id) DO NOTHING`,
        [versionId, me],
      );
    }
    this.toHash.set(versionId, imageId);
    void this.tick();
  }

  /**
   * 409 VERSION_NOT_ON_NODE when the version is held by another node and not yet verified here (a client of it cannot
   * get a disk on this node yet). In memory: called on the boot path.
   */
  assertBootable(versionId: string, versionName: string): void {
    const state = this.missingHere.get(versionId);
    if (state === undefined) return;
    throw new ConflictError(
      'VERSION_NOT_ON_NODE',
      `version ${versionName} is not on node ${this.config.node.name} yet (replication: ${state}); it boots once copied and verified`,
      { versionId, node: this.config.node.name, replication: state },
    );
  }

  /** The version's content for the node named by the request's signature (401 when it does not verify). */
  async openContent(
    versionId: string,
    baseVersionId: string | null,
    auth: string | undefined,
    method: string,
    path: string,
  ): Promise<OutgoingVersion> {
    const who = verifyNodeRequest(this.secret, auth, method, path);
    if ('refused' in who) {
      this.logger.warn(`refused a version copy request (${who.refused}) for ${versionId}`);
      throw new DomainError('unauthorized', 'NODE_AUTH_REQUIRED', `a version's content is for DLS nodes only (${who.refused} node credential)`);
    }
    const rows = await this.ds.query<{ image_id: string }[]>(`SELECT image_id FROM image_snapshots WHERE id = $1`, [versionId]);
    if (rows.length === 0) throw new NotFoundError('version', versionId, 'VERSION_NOT_FOUND');
    if (this.missingHere.has(versionId) || !this.heldHere.has(versionId)) {
      throw new ConflictError('VERSION_NOT_ON_NODE', `version ${versionId} is not verified on node ${this.config.node.name}`);
    }
    const out = await storageCall(() => this.driver.sendVersion(rows[0].image_id, versionId, baseVersionId));
    this.logger.log(`sending version ${versionId} (${out.format}${out.baseVersionId ? ` from ${out.baseVersionId}` : ''}) to node ${who.nodeId}`);
    return out;
  }

  /** Every version on every node that is not stopped: its state there, `missing` when it has none. */
  async list(filter: { versionId?: string; nodeId?: string } = {}): Promise<ReplicaView[]> {
    const rows = await this.ds.query<Record<string, unknown>[]>(
      `SELECT s.id AS version_id, s.name AS version, i.id AS image_id, i.name AS image, n.id AS node_id, n.name AS node,
              COALESCE(r.state, 'missing') AS state, r.method, src.name AS source_node, r.base_version_id,
              COALESCE(r.bytes_copied, 0)::text AS bytes_copied, r.sha256, r.error, COALESCE(r.attempts, 0) AS attempts,
              r.started_at, r.finished_at
         FROM image_snapshots s JOIN images i ON i.id = s.image_id CROSS JOIN nodes n
         LEFT JOIN version_replicas r ON r.version_id = s.id AND r.node_id = n.id
         LEFT JOIN nodes src ON src.id = r.source_node_id
        WHERE s.storage_ref IS NOT NULL AND (n.state <> 'stopped' OR r.node_id IS NOT NULL)
          AND ($1::uuid IS NULL OR s.id = $1) AND ($2::uuid IS NULL OR n.id = $2)
        ORDER BY i.name, s.created_at, n.name`,
      [filter.versionId ?? null, filter.nodeId ?? null],
    );
    return rows.map((r) => ({
      versionId: r.version_id as string,
      version: r.version as string,
      imageId: r.image_id as string,
      image: r.image as string,
      nodeId: r.node_id as string,
      node: r.node as string,
      state: r.state as ReplicaView['state'],
      method: (r.method as string) ?? null,
      sourceNode: (r.source_node as string) ?? null,
      baseVersionId: (r.base_version_id as string) ?? null,
      bytesCopied: Number(r.bytes_copied),
      sha256: (r.sha256 as string) ?? null,
      error: (r.error as string) ?? null,
      attempts: r.attempts as number,
      startedAt: (r.started_at as Date) ?? null,
      finishedAt: (r.finished_at as Date) ?? null,
    }));
  }

  // ---- the loop ----------------------------------------------------------------------------------------------------

  /** One pass: adopt local versions (first pass), refresh what is missing, copy the oldest missing one. Never rejects. */
  tick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.ticking) {
      // Asked during a pass (which may have read the state before the change that prompted this): one more pass after.
      this.again = true;
      return this.ticking;
    }
    this.again = false;
    this.ticking = (async () => {
      try {
        if (!this.adopted) {
          await this.adoptLocal();
          this.adopted = true;
        }
        for (const [versionId, imageId] of [...this.toHash]) {
          if (this.stopped) return;
          await this.hashMade(imageId, versionId);
          this.toHash.delete(versionId);
        }
        const wanted = await this.refresh();
        await this.dropDeleted();
        const next = wanted.find((v) => this.due(v));
        if (next && !this.stopped) await this.pull(next);
      } catch (err) {
        this.logger.warn(`replication pass failed (retried in ${TICK_MS / 1000} s): ${errText(err)}`);
      } finally {
        this.ticking = null;
        if (this.again && !this.stopped) void this.tick();
      }
    })();
    return this.ticking;
  }

  /** Reads what this node lacks (versions held verified by another live node) and what it holds. */
  private async refresh(): Promise<WantedVersion[]> {
    const me = this.cluster.id;
    if (!me) return [];
    const live = [...(await this.cluster.liveNodeIds())];
    const wanted = await this.ds.query<WantedVersion[]>(
      `SELECT s.id, s.image_id, i.name AS image, s.name, s.sha256, s.created_at, r.state, COALESCE(r.attempts, 0) AS attempts, r.updated_at,
              ARRAY(SELECT o.node_id::text FROM version_replicas o
                     WHERE o.version_id = s.id AND o.state = 'verified' AND o.node_id <> $1 AND o.node_id = ANY($2::uuid[])) AS sources
         FROM image_snapshots s JOIN images i ON i.id = s.image_id
         LEFT JOIN version_replicas r ON r.version_id = s.id AND r.node_id = $1
        WHERE s.sha256 IS NOT NULL AND s.storage_ref IS NOT NULL AND (r.state IS NULL OR r.state <> 'verified')
        ORDER BY s.created_at, s.id`,
      [me, live],
    );
    const lacking = wanted.filter((v) => v.sources.length > 0);
    this.missingHere = new Map(lacking.map((v) => [v.id, v.state ?? 'missing']));
    const held = await this.ds.query<{ version_id: string }[]>(`SELECT version_id FROM version_replicas WHERE node_id = $1 AND state = 'verified'`, [
      me,
    ]);
    const deleted = [...this.heldHere].filter((id) => !held.some((h) => h.version_id === id));
    this.heldHere = new Set([...held.map((h) => h.version_id), ...deleted]);
    const counts = await this.ds.query<{ state: string; n: number }[]>(
      `SELECT state, count(*)::int AS n FROM version_replicas WHERE node_id = $1 GROUP BY state`,
      [me],
    );
    this.states = new Map(counts.map((c) => [c.state, c.n]));
    this.states.set('missing', lacking.filter((v) => v.state === null).length);
    return lacking;
  }

  /** A failed copy waits 10 s per attempt so far (at most 5 min) before the next. */
  private due(v: WantedVersion): boolean {
    if (v.state !== 'failed' || !v.updated_at) return true;
    const wait = Math.min(300_000, 10_000 * Math.max(1, v.attempts));
    return Date.now() - new Date(v.updated_at).getTime() >= wait;
  }

  /** Versions removed from the catalogue (the row is gone) that this node still holds: removed here too. */
  private async dropDeleted(): Promise<void> {
    const ids = [...this.heldHere];
    if (ids.length === 0) return;
    const still = new Set(
      (await this.ds.query<{ id: string }[]>(`SELECT id FROM image_snapshots WHERE id = ANY($1::uuid[])`, [ids])).map((r) => r.id),
    );
    const gone = ids.filter((x) => !still.has(x));
    if (gone.length === 0) return;
    const inventory = await this.driver.inventory();
    for (const id of gone) {
      const item = inventory.find((i) => i.kind === 'version' && i.versionId === id);
      try {
        if (item?.imageId) await this.driver.destroyVersion(item.imageId, id);
        this.heldHere.delete(id);
        if (item) this.logger.log(`removed version ${id} here: it was deleted from the catalogue`);
      } catch (err) {
        this.logger.warn(`version ${id} was deleted from the catalogue but stays here for now: ${errText(err)}`);
      }
    }
  }

  /** Hashes a version made here and records it (a version deleted meanwhile is skipped). */
  private async hashMade(imageId: string, versionId: string): Promise<void> {
    const started = Date.now();
    let sha: string;
    try {
      sha = await this.driver.versionSha256(imageId, versionId, { signal: this.stopping.signal });
    } catch (err) {
      if (this.stopped) return; // shutting down: hashed again at the next start
      this.logger.warn(`could not hash version ${versionId} made here (it is not copied to other nodes): ${errText(err)}`);
      return;
    }
    const rows = updatedRows<{ id: string }>(
      await this.ds.query(`UPDATE image_snapshots SET sha256 = $2 WHERE id = $1 RETURNING id`, [versionId, sha]),
    );
    if (rows.length === 0) return;
    await this.markVerified(versionId, { method: 'local', source: null, base: null, bytes: 0, sha });
    const secs = (Date.now() - started) / 1000;
    this.logger.log(`version ${versionId} made here: sha256 ${sha.slice(0, 12)}… in ${secs.toFixed(1)} s`);
    const [v] = await this.ds.query<WantedVersion[]>(
      `SELECT s.id, s.image_id, i.name AS image, s.name FROM image_snapshots s JOIN images i ON i.id = s.image_id WHERE s.id = $1`,
      [versionId],
    );
    // The other nodes hear it (and start copying at once).
    if (v) this.publish(v, 'verified', { source: null, method: 'local', bytes: 0, error: null, seconds: secs });
  }

  /**
   * Versions this node's storage holds with no replica row (made before DLS kept them), or made here and not hashed
   * yet when the last process ended: hashed and recorded.
   */
  private async adoptLocal(): Promise<void> {
    const me = this.cluster.id;
    if (!me) return;
    const rows = await this.ds.query<{ id: string; image_id: string; sha256: string | null; name: string }[]>(
      `SELECT s.id, s.image_id, s.sha256, s.name FROM image_snapshots s
        WHERE s.storage_ref IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM version_replicas r WHERE r.version_id = s.id AND r.node_id = $1
                           AND NOT (r.state = 'verifying' AND r.method = 'local'))`,
      [me],
    );
    for (const v of rows) {
      if (this.stopped) return;
      if (!(await this.driver.versionInfo(v.image_id, v.id).catch(() => null))) continue;
      const sha = await this.driver.versionSha256(v.image_id, v.id, { signal: this.stopping.signal });
      if (v.sha256 && v.sha256 !== sha) {
        this.logger.warn(`version ${v.name} here does not match its recorded sha256: not used here`);
        continue;
      }
      await this.ds.query(`UPDATE image_snapshots SET sha256 = $2 WHERE id = $1 AND sha256 IS NULL`, [v.id, sha]);
      await this.markVerified(v.id, { method: 'local', source: null, base: null, bytes: 0, sha });
      this.logger.log(`version ${v.name} recorded as held here (sha256 ${sha.slice(0, 12)}…)`);
    }
  }

  /** Copies one version from a node that holds it, verifies it, and records the outcome. */
  private async pull(v: WantedVersion): Promise<void> {
    const me = this.cluster.id!;
    const sources = await this.ds.query<SourceNode[]>(`SELECT id, name, addresses, http_port FROM nodes WHERE id = ANY($1::uuid[]) ORDER BY name`, [
      v.sources,
    ]);
    if (sources.length === 0) return;
    const started = Date.now();
    let bytes = 0;
    let source: SourceNode | null = null;
    let method: string = 'raw';
    let base: string | null = null;
    await this.setState(v, 'copying', { startedAt: true, attempt: true, source: sources[0].id });
    try {
      const existing = await this.driver.versionInfo(v.image_id, v.id).catch(() => null);
      if (!existing) {
        for (const s of sources) {
          const b = await this.baseFor(v, s.id, me);
          const got = await this.fetchFrom(s, v.id, b);
          if (!got) continue;
          source = s;
          method = got.format;
          base = got.baseVersionId;
          await this.setState(v, 'copying', { source: s.id, method, base });
          // A copy that gets no byte for STALL_MS is abandoned (the abort errors the body, and so the receive).
          const stalled = () => got.abort.abort(new Error(`no bytes from node ${s.name} for ${STALL_MS / 1000} s`));
          const stall = setTimeout(stalled, STALL_MS);
          const counter = new Transform({
            transform: (chunk: Buffer, _enc, cb) => {
              bytes += chunk.length;
              this.metrics?.replicationBytes.inc(chunk.length);
              stall.refresh();
              cb(null, chunk);
            },
          });
          // pipeline: an error of the body (a broken connection, the abort) destroys the counter, failing the receive.
          pipeline(got.body, counter, () => undefined);
          const progress = setInterval(
            () =>
              void this.ds
                .query(`UPDATE version_replicas SET bytes_copied = $3, updated_at = now() WHERE version_id = $1 AND node_id = $2`, [v.id, me, bytes])
                .catch(() => undefined),
            1000,
          );
          try {
            // The announced length too: a raw stream cut cleanly short is refused, not taken for the whole version.
            await this.driver.receiveVersion(v.image_id, v.id, {
              format: got.format,
              baseVersionId: got.baseVersionId,
              sizeBytes: got.sizeBytes,
              stream: counter,
            });
          } finally {
            clearInterval(progress);
            clearTimeout(stall);
            this.copying = null;
          }
          break;
        }
        if (!source) throw new Error(`no node holding it answered (${sources.map((s) => s.name).join(', ')})`);
      }
      await this.setState(v, 'verifying', { bytes });
      const sha = await this.driver.versionSha256(v.image_id, v.id, { signal: this.stopping.signal });
      if (sha !== v.sha256) {
        await this.driver.destroyVersion(v.image_id, v.id).catch(() => undefined);
        throw new Error(`the copy's sha256 ${sha} is not the recorded ${v.sha256}: discarded`);
      }
      await this.markVerified(v.id, { method: existing ? 'local' : method, source: source?.id ?? null, base, bytes, sha });
      const secs = (Date.now() - started) / 1000;
      this.metrics?.replicationCopies.inc({ result: 'verified' });
      this.logger.log(
        `version ${v.name} of ${v.image} verified here: ${bytes} bytes (${method}${base ? ` from ${base}` : ''}) from ${source?.name ?? 'local storage'} in ${secs.toFixed(1)} s` +
          (bytes > 0 ? ` (${(bytes / 1e6 / Math.max(secs, 0.001)).toFixed(1)} MB/s)` : ''),
      );
      this.publish(v, 'verified', { source: source?.name ?? null, method, bytes, error: null, seconds: secs });
    } catch (err) {
      const msg = errText(err);
      this.metrics?.replicationCopies.inc({ result: 'failed' });
      this.logger.warn(`copy of version ${v.name} of ${v.image} failed (attempt ${v.attempts + 1}): ${msg}`);
      await this.ds
        .query(
          `UPDATE version_replicas SET state = 'failed', error = $3, bytes_copied = $4, updated_at = now(), finished_at = now() WHERE version_id = $1 AND node_id = $2`,
          [v.id, me, msg.slice(0, 2000), bytes],
        )
        .catch(() => undefined);
      this.publish(v, 'failed', { source: source?.name ?? null, method, bytes, error: msg, seconds: (Date.now() - started) / 1000 });
    }
  }

  /** The newest version of the image older than `v` that both this node and `sourceId` hold verified. */
  private async baseFor(v: WantedVersion, sourceId: string, me: string): Promise<string | null> {
    const rows = await this.ds.query<{ id: string }[]>(
      `SELECT s.id FROM image_snapshots s
        WHERE s.image_id = $1 AND s.created_at < $2
          AND EXISTS (SELECT 1 FROM version_replicas a WHERE a.version_id = s.id AND a.node_id = $3 AND a.state = 'verified')
          AND EXISTS (SELECT 1 FROM version_replicas b WHERE b.version_id = s.id AND b.node_id = $4 AND b.state = 'verified')
        ORDER BY s.created_at DESC LIMIT 1`,
      [v.image_id, v.created_at, me, sourceId],
    );
    return rows[0]?.id ?? null;
  }

  /** The content response from one of `s`'s addresses (the first that answers), or null when none does. */
  private async fetchFrom(
    s: SourceNode,
    versionId: string,
    base: string | null,
  ): Promise<{ body: Readable; format: VersionStreamFormat; baseVersionId: string | null; sizeBytes: number | null; abort: AbortController } | null> {
    const path = contentPath(versionId, base);
    for (const addr of s.addresses) {
      const abort = new AbortController();
      this.copying = abort;
      const connect = setTimeout(() => abort.abort(new Error(`no answer from ${addr} within ${CONNECT_MS / 1000} s`)), CONNECT_MS);
      try {
        const res = await fetch(`http://${addr}:${s.http_port}${path}`, {
          headers: { authorization: signNodeRequest(this.secret, this.cluster.id!, 'GET', path) },
          signal: abort.signal,
        });
        clearTimeout(connect);
        if (res.status !== 200 || !res.body) {
          const text = await res.text().catch(() => '');
          throw new Error(`node ${s.name} (${addr}) answered ${res.status}: ${text.slice(0, 300)}`);
        }
        const format = res.headers.get('x-dls-stream-format') as VersionStreamFormat;
        if (!FORMATS.includes(format)) throw new Error(`node ${s.name} sent an unknown stream format ${format}`);
        // Paused until piped: nothing flows (or is lost) before the receiver reads it.
        const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
        const length = res.headers.get('content-length');
        return {
          body,
          format,
          baseVersionId: res.headers.get('x-dls-base-version') || null,
          sizeBytes: length === null ? null : Number(length),
          abort,
        };
      } catch (err) {
        clearTimeout(connect);
        if (err instanceof Error && /answered 4\d\d/.test(err.message)) throw err;
        this.logger.warn(`could not reach node ${s.name} at ${addr}:${s.http_port}: ${errText(err)}`);
      }
    }
    return null;
  }

  private async setState(
    v: WantedVersion,
    state: ReplicaState,
    o: { startedAt?: boolean; attempt?: boolean; source?: string; method?: string; base?: string | null; bytes?: number },
  ): Promise<void> {
    const me = this.cluster.id!;
    await this.ds.query(
      `INSERT INTO version_replicas AS r (version_id, node_id, state, source_node_id, method, base_version_id, bytes_copied, attempts, started_at, updated_at)
       VALUES ($1, $2, $3, $4, COALESCE($5, 'raw'), $6, COALESCE($7, 0), CASE WHEN $8 THEN 1 ELSE 0 END, now(), now())
       ON CONFLICT (version_id, node_id) DO UPDATE SET state = $3, source_node_id = COALESCE($4, r.source_node_id),
              method = COALESCE($5, r.method), base_version_id = CASE WHEN $5 IS NULL THEN r.base_version_id ELSE $6 END,
              bytes_copied = COALESCE($7, r.bytes_copied), attempts = r.attempts + CASE WHEN $8 THEN 1 ELSE 0 END,
              started_at = CASE WHEN $9 THEN now() ELSE r.started_at END, error = CASE WHEN $9 THEN NULL ELSE r.error END,
              finished_at = CASE WHEN $9 THEN NULL ELSE r.finished_at END, updated_at = now()`,
      [v.id, me, state, o.source ?? null, o.method ?? null, o.base ?? null, o.bytes ?? null, o.attempt === true, o.startedAt === true],
    );
    this.missingHere.set(v.id, state);
    if (state === 'copying' && o.startedAt) this.publish(v, 'copying', { source: null, method: null, bytes: 0, error: null, seconds: null });
  }

  private async markVerified(
    versionId: string,
    o: { method: string; source: string | null; base: string | null; bytes: number; sha: string },
  ): Promise<void> {
    const me = this.cluster.id;
    if (!me) return;
    await this.ds.query(
      `INSERT INTO version_replicas AS r (version_id, node_id, state, source_node_id, method, base_version_id, bytes_copied, sha256, attempts, started_at, finished_at, updated_at)
       VALUES ($1, $2, 'verified', $3, $4, $5, $6, $7, 0, now(), now(), now())
       ON CONFLICT (version_id, node_id) DO UPDATE SET state = 'verified', source_node_id = $3, method = $4, base_version_id = $5,
              bytes_copied = $6, sha256 = $7, error = NULL, finished_at = now(), updated_at = now()`,
      [versionId, me, o.source, o.method, o.base, o.bytes, o.sha],
    );
    this.missingHere.delete(versionId);
    this.heldHere.add(versionId);
  }

  private publish(
    v: WantedVersion,
    state: VersionReplicaEventBody['state'],
    o: { source: string | null; method: string | null; bytes: number; error: string | null; seconds: number | null },
  ): void {
    this.events?.emit('version.replica', {
      versionId: v.id,
      version: v.name,
      imageId: v.image_id,
      image: v.image,
      node: this.config.node.name,
      state,
      sourceNode: o.source,
      method: o.method,
      bytes: o.bytes,
      seconds: o.seconds,
      error: o.error,
    });
  }
}
