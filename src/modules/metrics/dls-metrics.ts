import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** DHCP message types as counted (the request's type; `bootp` for a BOOTP request without option 53). */
export type DhcpMetricType = 'discover' | 'request' | 'decline' | 'release' | 'inform' | 'bootp' | 'other' | 'malformed';
/** What became of a DHCP request. */
export type DhcpMetricOutcome = 'offer' | 'ack' | 'nak' | 'proxy_offer' | 'proxy_ack' | 'declined' | 'released' | 'dropped' | 'error';
/** What a boot-script route answered. */
export type ScriptMetricOutcome = 'script' | 'waiting' | 'local' | 'unknown' | 'disk_in_use' | 'error' | 'refused' | 'rate_limited' | 'bad_request';

/** Files counted by name; every other TFTP file name is `other` (clients choose names: the label set stays bounded). */
const TFTP_FILES = new Set(['undionly.kpxe', 'ipxe.pxe', 'ipxe.efi', 'snponly.efi']);

/** Boot duration buckets (seconds): a boot from DHCP to the iSCSI login takes seconds to a few minutes. */
const BOOT_BUCKETS = [1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600];
/** HTTP buckets (seconds). */
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The in-process Prometheus series of DLS, on a registry of their own (several apps in one test process never clash).
 * Everything here is a counter or histogram bumped in memory: the hot paths (DHCP, TFTP, scripts) never wait on
 * anything to be counted. Gauges that need the database or tgt are computed at scrape time by
 * {@link import('./scrape-gauges').ScrapeGauges}. Framework-free, so the protocol servers can take it as a plain
 * object.
 */
export class DlsMetrics {
  readonly registry = new Registry();

  readonly dhcpPackets = new Counter({
    name: 'dls_dhcp_packets_total',
    help: 'DHCP requests handled, by request type, outcome and network range (range "" when none matched)',
    labelNames: ['type', 'outcome', 'range'] as const,
    registers: [this.registry],
  });
  readonly dhcpQueueDropped = new Counter({
    name: 'dls_dhcp_queue_dropped_total',
    help: 'DHCP requests dropped from an interface queue unanswered: stale (older than DLS_DHCP_DEADLINE_MS), overflow (queue full), superseded (a newer copy from the same client)',
    labelNames: ['interface', 'reason'] as const,
    registers: [this.registry],
  });
  private dhcpQueueSource: () => Map<string, number> = () => new Map();
  private dhcpOffersSource: () => Map<string, number> = () => new Map();
  private rangeHoldsSource: () => Map<string, boolean> = () => new Map();
  /** 1 for each network range this node answers DHCP for now (several nodes on one database: one holder per range). */
  readonly rangeHeld = new Gauge({
    name: 'dls_range_held',
    help: 'network ranges this node answers DHCP for now (1), by range name; a range another node holds is not listed',
    labelNames: ['range'] as const,
    registers: [this.registry],
    collect: () => {
      this.rangeHeld.reset();
      for (const [range, held] of this.rangeHoldsSource()) if (held) this.rangeHeld.set({ range }, 1);
    },
  });
  readonly rangeHandovers = new Counter({
    name: 'dls_range_handovers_total',
    help: 'range hand-overs seen by this node: taken (it became the holder), handed-back (shutdown, drain, range off), lost (hold ran out)',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });
  private replicaStatesSource: () => Map<string, number> = () => new Map();
  /** This node's copies of image versions by state (missing: held by another live node, not started here). */
  readonly versionReplicas = new Gauge({
    name: 'dls_version_replicas',
    help: 'image versions on this node by replication state: verified (bootable here), copying, verifying, failed, missing (another node holds it)',
    labelNames: ['state'] as const,
    registers: [this.registry],
    collect: () => {
      this.versionReplicas.reset();
      for (const [state, n] of this.replicaStatesSource()) this.versionReplicas.set({ state }, n);
    },
  });
  readonly replicationBytes = new Counter({
    name: 'dls_replication_received_bytes_total',
    help: 'bytes of image versions this node received from other nodes',
    registers: [this.registry],
  });
  readonly replicationCopies = new Counter({
    name: 'dls_replication_copies_total',
    help: 'copies of image versions this node finished: verified, or failed (retried later)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly dhcpQueueDepth = new Gauge({
    name: 'dls_dhcp_queue_depth',
    help: 'DHCP requests waiting in each interface queue',
    labelNames: ['interface'] as const,
    registers: [this.registry],
    collect: () => {
      this.dhcpQueueDepth.reset();
      for (const [name, depth] of this.dhcpQueueSource()) this.dhcpQueueDepth.set({ interface: name }, depth);
    },
  });
  readonly tftpTransfers = new Counter({
    name: 'dls_tftp_transfers_total',
    help: 'TFTP transfers finished, by file (loaders by name, anything else "other") and result (ok, error, aborted by client)',
    labelNames: ['file', 'result'] as const,
    registers: [this.registry],
  });
  readonly bootFiles = new Counter({
    name: 'dls_boot_files_total',
    help: 'Boot files served over HTTP (GET /boot/files/…: UEFI HTTP boot loaders), by file (loaders by name, anything else "other") and result (ok, aborted)',
    labelNames: ['file', 'result'] as const,
    registers: [this.registry],
  });
  readonly tftpBytes = new Counter({
    name: 'dls_tftp_bytes_total',
    help: 'TFTP payload bytes acknowledged by clients, by file',
    labelNames: ['file'] as const,
    registers: [this.registry],
  });
  readonly scriptRequests = new Counter({
    name: 'dls_boot_script_requests_total',
    help: 'iPXE boot-script requests under /boot, by route and outcome',
    labelNames: ['route', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly sessionTransitions = new Counter({
    name: 'dls_boot_session_transitions_total',
    help: 'Boot-session state changes, by the state entered',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly bootDuration = new Histogram({
    name: 'dls_boot_duration_seconds',
    help: 'Time from a boot session opening (DHCP) to running (iSCSI login seen)',
    buckets: BOOT_BUCKETS,
    registers: [this.registry],
  });
  readonly bootStageDuration = new Histogram({
    name: 'dls_boot_stage_duration_seconds',
    help: 'Time spent in each boot stage: starting (DHCP until loader or script served), booting (until iSCSI login seen)',
    labelNames: ['stage'] as const,
    buckets: BOOT_BUCKETS,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'dls_http_request_duration_seconds',
    help: 'HTTP requests on the API port, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: HTTP_BUCKETS,
    registers: [this.registry],
  });

  /** session id → when it entered `booting` (ms), for the booting stage; bounded, oldest dropped. */
  private readonly bootingSince = new Map<string, number>();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    // process_* and nodejs_* (CPU, memory, fds, GC, event-loop lag nodejs_eventloop_lag_*) with a dls_ prefix-free name:
    // dashboards and alerts for Node processes expect the standard names.
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
  }

  /** Where `dls_dhcp_queue_depth` reads each interface's queue depth (the DHCP provider). */
  /** Where the scrape reads the ranges this node holds (range name → held now). */
  setRangeHoldsSource(source: () => Map<string, boolean>): void {
    this.rangeHoldsSource = source;
  }

  /** Where the scrape reads this node's version copies by state (the replication service). */
  setReplicaStatesSource(source: () => Map<string, number>): void {
    this.replicaStatesSource = source;
  }

  setDhcpQueueSource(source: () => Map<string, number>): void {
    this.dhcpQueueSource = source;
  }

  /** Where the scrape reads the offers held in memory per range id (the lease service: offers are not written). */
  setDhcpOffersSource(source: () => Map<string, number>): void {
    this.dhcpOffersSource = source;
  }

  /** Offers held in memory per range id. */
  dhcpOffersHeld(): Map<string, number> {
    return this.dhcpOffersSource();
  }

  /** The label for a TFTP file name. */
  static tftpFile(name: string): string {
    const base = name.replace(/^\/+/, '');
    return TFTP_FILES.has(base) ? base : 'other';
  }

  /** A boot session entered `status`; `startedAt` and `bootTimeSeconds` come from its row. */
  sessionEntered(s: { id: string; status: string; startedAt: Date }, nowMs = Date.now()): void {
    this.sessionTransitions.inc({ status: s.status });
    if (s.status === 'booting') {
      this.bootStageDuration.observe({ stage: 'starting' }, Math.max(0, (nowMs - s.startedAt.getTime()) / 1000));
      this.bootingSince.set(s.id, nowMs);
      while (this.bootingSince.size > 10_000) this.bootingSince.delete(this.bootingSince.keys().next().value as string);
      return;
    }
    const since = this.bootingSince.get(s.id);
    this.bootingSince.delete(s.id);
    if (s.status !== 'running') return;
    // The row's boot_time_seconds is whole seconds; the histogram wants the finer figure.
    this.bootDuration.observe(Math.max(0, (nowMs - s.startedAt.getTime()) / 1000));
    if (since !== undefined) this.bootStageDuration.observe({ stage: 'booting' }, Math.max(0, (nowMs - since) / 1000));
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
