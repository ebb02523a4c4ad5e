import * as os from 'node:os';
import * as path from 'node:path';
import { passwordProblem } from '@common/auth/password-policy';
import { TGT_MAX_CONTROL_PORT } from '../modules/iscsi/tgt.adapter';
import { IQN_RE, ISCSI_NAME_MAX_BYTES } from '../modules/iscsi/tgt.validation';
import { assertDatasetName, assertSnapshotName } from '../modules/storage/zfs.adapter';
import { bool, bytes, checked, EnvValueError, EnvVar, host, int, ipv4, oneOf, seconds, str, url, within } from './env.schema';

/** DLS_DIR_CLONE: how the dir driver makes client disks (see DirStorageDriver). */
type DirClone = 'auto' | 'reflink' | 'overlay' | 'copy';

export type LogLevel = 'error' | 'warn' | 'log' | 'debug' | 'verbose';
/** Who may read Swagger UI and the OpenAPI document. */
export type ApiDocsMode = 'public' | 'auth' | 'off';

/**
 * Bounds taken from each value's consumer, so that what passes here also passes there (issue 9 item 14: a control
 * port of 39213 passed 0–65535 here and was refused by the tgt adapter at start).
 */
const MAX_DURATION = 3650 * 86400;
const duration = within(seconds, 1, MAX_DURATION, ' s');
const UUID = '00000000-0000-4000-8000-000000000000';
/** The longest names the zfs driver builds under its root (zfs.driver.ts: images/<id>@v-<version id>, clients/<id>). */
const zfsRootFits = (root: string): string | undefined => {
  try {
    assertDatasetName(`${root}/clients/${UUID}`);
    assertSnapshotName(`${root}/images/${UUID}@v-${UUID}`);
    return undefined;
  } catch {
    return `must be a lower-case pool[/dataset] name short enough for the datasets DLS makes under it (${root.length} characters)`;
  }
};
/** The IQNs iscsi-exports.service.ts builds: `<prefix>:client-<id>` and `<prefix>:initiator-<id>`, as tgt accepts them. */
const iqnPrefixFits = (prefix: string): string | undefined => {
  const longest = `${prefix}:initiator-${UUID}`;
  if (!IQN_RE.test(longest)) return 'must be iqn.yyyy-mm.<reversed domain> in lower case (RFC 3720 §3.2.6.3.1)';
  if (Buffer.byteLength(longest) > ISCSI_NAME_MAX_BYTES) return `leaves no room for DLS's target names within ${ISCSI_NAME_MAX_BYTES} bytes`;
  return undefined;
};
/** `address:port` for tgtd's `--iscsi portal=`: an IPv4 address and a port 1–65535 (tgtd.supervisor.ts). */
const portal = checked(str({ pattern: /^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/ }), (v) => {
  const [address, port] = v.split(':');
  try {
    ipv4(address);
  } catch {
    return `must name an IPv4 address (got ${address})`;
  }
  return Number(port) >= 1 && Number(port) <= 65535 ? undefined : 'port must be between 1 and 65535';
});

/** Every environment variable DLS reads. README.md documents the same list. */
export const ENV = {
  PORT: { default: 3000, parse: int(1, 65535), description: 'HTTP port of the API, Swagger UI and iPXE scripts (scripts name it, so not 0)' },
  HOST: { default: '0.0.0.0', parse: host, description: 'HTTP bind address (IP address or host name)' },
  DLS_API_DOCS: {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- widens the default to the parser's type
    default: 'public' as ApiDocsMode,
    parse: oneOf<ApiDocsMode>('public', 'auth', 'off'),
    description: 'Swagger UI (/docs) and OpenAPI (/docs-json): public, auth (any DLS user: HTTP Basic or Bearer) or off (404)',
  },
  DATABASE_URL: {
    parse: url('postgres', 'postgresql'),
    secret: true,
    description: 'PostgreSQL URL; unset = start the embedded PostgreSQL under DLS_DATA_DIR',
  },
  DLS_DATA_DIR: { default: './data', parse: str({ min: 1 }), description: 'state directory (embedded database, secrets, dir-driver disks)' },
  DLS_MIGRATIONS_RUN: {
    default: true,
    parse: bool,
    description: 'run pending migrations at start (under an advisory lock); false = refuse to start while any is pending',
  },
  DLS_ADMIN_USER: {
    default: 'admin',
    parse: str({ pattern: /^[a-z][a-z0-9_.-]{2,63}$/ }),
    description: 'first admin user, created when no user exists',
  },
  DLS_ADMIN_PASSWORD: {
    parse: str({ min: 8, max: 256 }),
    secret: true,
    description: 'first admin password; unset = generated and printed once. A weak one (the API password policy) is refused at start',
  },
  JWT_SECRET: { parse: str({ min: 32 }), secret: true, description: 'JWT signing secret; unset = generated once and kept in the data dir' },
  JWT_ACCESS_TTL: { default: 900, parse: duration, description: 'access-token lifetime' },
  JWT_REFRESH_TTL: { default: 7 * 86400, parse: duration, description: 'refresh-token lifetime' },
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- widens the default to the parser's type
  LOG_LEVEL: { default: 'log' as LogLevel, parse: oneOf<LogLevel>('error', 'warn', 'log', 'debug', 'verbose'), description: 'log verbosity' },
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- widens the default to the parser's type
  DLS_STORAGE_DRIVER: { default: 'dir' as 'dir' | 'zfs', parse: oneOf('dir', 'zfs'), description: 'storage driver' },
  DLS_DIR_CLONE: {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- widens the default to the parser's type
    default: 'auto' as DirClone,
    parse: oneOf<DirClone>('auto', 'reflink', 'overlay', 'copy'),
    description: 'dir driver: how client disks are made — auto = reflink where the filesystem can, else a qcow2 overlay; copy = a full copy per disk',
  },
  DLS_ZFS_ROOT: {
    parse: checked(str({ min: 1 }), zfsRootFits),
    description: 'dataset under which the zfs driver keeps everything, e.g. tank/dls',
  },
  DLS_DISKS_AHEAD: {
    default: true,
    parse: bool,
    description:
      "make each enabled client's disk before its first boot where a disk is O(1) (zfs clone, reflink, overlay), so a storm only exports them; false = at the boot",
  },
  DLS_STORAGE_MIN_FREE: {
    default: 1024 ** 3,
    parse: within(bytes, 0, Number.MAX_SAFE_INTEGER),
    description: 'refuse storage operations that would leave less free space (507)',
  },
  DLS_IMPORT_DIR: {
    parse: str({ min: 1 }),
    description: 'the only directory POST /images/:id/import reads from (symlinks may not leave it); unset = <data dir>/import',
  },
  DLS_BOOT_SERVER_IP: {
    parse: ipv4,
    description: "override: the iSCSI portal scripts name when DLS_ISCSI_PORTAL is 0.0.0.0 (and DHCP's server address on an interface without IPv4)",
  },
  DLS_TFTP_ENABLED: { default: true, parse: bool, description: 'serve iPXE loaders over TFTP' },
  DLS_TFTP_ADDRESS: {
    parse: ipv4,
    description:
      "TFTP bind address; unset = the IPv4 address of each enabled network range's interface (nothing is bound before a boot network exists)",
  },
  DLS_TFTP_PORT: { default: 69, parse: int(0, 65535), description: 'TFTP port (0 = ephemeral, for tests)' },
  DLS_TFTP_ROOT: { parse: str({ min: 1 }), description: 'TFTP root; unset = <data dir>/tftp filled from /usr/lib/ipxe' },
  DLS_TFTP_SPIN_US: {
    default: 100,
    parse: int(0, 10000),
    description:
      'TFTP waits for the next ACK by polling up to this many µs instead of sleeping: a lone transfer polls its socket, two or more keep the event loop polling and yield the CPU when nothing came (0 = off)',
  },
  DLS_DHCP_ENABLED: { default: true, parse: bool, description: 'run the DHCP/proxyDHCP server for enabled network ranges with an interface' },
  DLS_DHCP_PORT: { default: 67, parse: int(1, 65535), description: 'DHCP server port (tests only change this)' },
  DLS_DHCP_QUEUE: {
    default: 1024,
    parse: int(16, 65536),
    description: 'DHCP requests waiting per interface at most; beyond it the oldest DISCOVER is dropped (memory stays bounded in a storm)',
  },
  DLS_DHCP_DEADLINE_MS: {
    default: 3000,
    parse: int(100, 60000),
    description: 'a DHCP request that waited longer than this (ms) is dropped, not answered: its client has retransmitted by then',
  },
  DLS_IPV6_RA: { default: true, parse: bool, description: 'send IPv6 router advertisements on boot interfaces so iPXE does not wait ~15 s' },
  DLS_IPV6_ENABLE: {
    default: true,
    parse: bool,
    description:
      'turn IPv6 on (link-local only, accept_ra=0, no forwarding) on boot interfaces where it is off, so RAs go out; false = never touch it',
  },
  DLS_TCP_QUICKACK: {
    default: true,
    parse: bool,
    description: "turn delayed ACKs off on boot interfaces' routes (iPXE's iSCSI login is ~40 ms faster per step)",
  },
  DLS_ISCSI_ENABLED: { default: true, parse: bool, description: 'export client disks over iSCSI through tgt' },
  DLS_TGTD_MANAGE: { default: true, parse: bool, description: 'start and stop our own tgtd (false = use a running one)' },
  DLS_TGTD_CONTROL_PORT: {
    default: 213,
    parse: int(0, TGT_MAX_CONTROL_PORT),
    description: `tgtd control port (-C, 0–${TGT_MAX_CONTROL_PORT} as tgtd accepts), keeps ours apart from any other tgtd`,
  },
  DLS_ISCSI_PORTAL: {
    default: '0.0.0.0:3260',
    parse: portal,
    description: 'address:port tgtd listens on; scripts name an explicit address as is, 0.0.0.0 as the address the client reached DLS on',
  },
  DLS_ISCSI_IQN_PREFIX: {
    default: 'iqn.2026-11.io.dls',
    parse: checked(str({ max: ISCSI_NAME_MAX_BYTES }), iqnPrefixFits),
    description: 'IQN prefix of our targets and initiators',
  },
  DLS_SESSION_GRACE: { default: 60, parse: duration, description: 'a session whose iSCSI connection is gone this long is shut down' },
  DLS_BOOT_TIMEOUT: { default: 300, parse: duration, description: 'a session with no iSCSI login this long after DHCP is marked error' },
  DLS_BOOT_RATE_BURST: {
    default: 20,
    parse: int(1, 1_000_000),
    description: 'boot routes (/boot/*): requests one source address may make back to back before DLS_BOOT_RATE_PER_SECOND applies',
  },
  DLS_BOOT_RATE_PER_SECOND: {
    default: 2,
    parse: bootRate,
    description:
      'boot routes: requests per second per source address after the burst (a boot needs 1–3); off (or 0) = no limit, e.g. clients behind one NAT/relay address',
  },
  DLS_METRICS_ADDRESS: {
    default: '127.0.0.1:9464',
    parse: metricsAddress,
    description: 'address:port of the Prometheus /metrics listener (its own port, no login: keep it on loopback or a management network); off = none',
  },
  DLS_WOL_PORTS: {
    default: [9] as number[],
    parse: wolPorts,
    description: 'UDP port(s) each Wake-on-LAN magic packet goes to, comma-separated: 9 (discard, the usual), 7 (echo) or both (9,7)',
  },
  DLS_WOL_GAP_MS: {
    default: 10,
    parse: int(0, 1000),
    description: 'milliseconds between two magic packets DLS sends (all wakes share one queue): 200 clients take ~2 s, never one burst',
  },
  DLS_WOL_SCHEDULES: {
    default: true,
    parse: bool,
    description: 'run the wake schedules on this node (one node fires each due schedule: they take a PostgreSQL advisory lock); false = never here',
  },
  DLS_WOL_RUN_GRACE: {
    default: 600,
    parse: within(seconds, 1, 86400, ' s'),
    description: 'a schedule found due later than this after its time (DLS was down) is skipped and audited as missed, not fired late',
  },
  DLS_NODE_NAME: {
    parse: str({ min: 1, max: 100, pattern: /^[A-Za-z0-9][A-Za-z0-9._-]*$/ }),
    description: "this DLS node's name among the nodes sharing one database (letters, digits, . _ -); unset = the host name",
  },
  DLS_NODE_LEASE: {
    default: 10,
    parse: within(seconds, 3, 300, ' s'),
    description:
      "how long a node's hold on a network range lasts without renewal (renewed every fifth of it): a standby takes over a dead node's ranges after this",
  },
  DLS_NODE_ADDRESS: {
    parse: ipv4,
    description: "the IPv4 address the other nodes reach this node's API at (to copy image versions from it); unset = they try its addresses in turn",
  },
  DLS_NODE_CAPACITY: {
    default: 300,
    parse: int(1, 100_000),
    description: 'how many clients this node is sized to boot at once (shown in GET /nodes; a hint for placing ranges)',
  },
  DLS_CORS_ORIGINS: {
    default: [] as string[],
    parse: corsOrigins,
    description: 'comma-separated browser origins (https://dash.example:8443) allowed to call the API cross-origin; unset = same-origin only',
  },
  DLS_EVENTS_MAX_AGE: { default: 900, parse: duration, description: 'events older than this are pruned (the Last-Event-ID resume window)' },
  DLS_EVENTS_MAX_COUNT: { default: 10_000, parse: int(100, 10_000_000), description: 'at most this many newest events are kept for resuming' },
  DLS_EVENTS_MAX_LAG: {
    default: 1000,
    parse: int(500, 1_000_000),
    description: 'how many events a stream subscriber may fall behind (the shared in-memory ring) before it is dropped (final event `dropped`)',
  },
} satisfies Record<string, EnvVar<unknown>>;

/** Requests per second (a positive number, at most 1,000,000), or `off`/`0`: no limit (returned as 0). */
function bootRate(raw: string): number {
  if (raw === 'off') return 0;
  if (!/^\d+(\.\d+)?$/.test(raw)) throw new EnvValueError('must be off, 0 or a positive number of requests per second (e.g. 2 or 0.5)');
  const n = Number(raw);
  if (n > 1_000_000) throw new EnvValueError('must be at most 1000000');
  return n;
}

/** `off`, or `<IPv4>:<port>` (port 0 = ephemeral, for tests). */
function metricsAddress(raw: string): string {
  if (raw === 'off') return raw;
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(raw);
  if (!m) throw new EnvValueError('must be off or <IPv4 address>:<port>, e.g. 127.0.0.1:9464');
  ipv4(m[1]);
  int(0, 65535)(m[2]);
  return raw;
}

/** Comma-separated UDP ports (1–65535), each once, at most 4: `9`, `7` or `9,7`. */
function wolPorts(raw: string): number[] {
  const ports = raw.split(',').map((p) => int(1, 65535)(p.trim()));
  if (new Set(ports).size !== ports.length) throw new EnvValueError('names a port twice');
  if (ports.length > 4) throw new EnvValueError('names more than 4 ports');
  return ports;
}

/** Comma-separated origins, each `scheme://host[:port]` exactly as a browser sends it in `Origin`. */
function corsOrigins(raw: string): string[] {
  const out = raw
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const o of out) {
    if (!/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/.test(o) && !/^https?:\/\/\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(o)) {
      throw new EnvValueError(`"${o.slice(0, 80)}" is not an origin like https://dashboard.example:8443 (no path, no trailing slash)`);
    }
  }
  return out;
}

type EnvSpec = typeof ENV;
type ValueOf<K extends keyof EnvSpec> = EnvSpec[K] extends EnvVar<infer T> ? T : never;
export type RawConfig = {
  [K in keyof EnvSpec]: EnvSpec[K] extends { default: unknown } ? ValueOf<K> : ValueOf<K> | undefined;
};

export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigValidationError';
  }
}

/** Parses and validates every variable; throws one error listing all bad keys. */
export function parseEnv(env: Record<string, string | undefined>): RawConfig {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, spec] of Object.entries(ENV) as [string, EnvVar<unknown>][]) {
    const raw = env[key];
    if (raw === undefined || raw === '') {
      out[key] = spec.default;
      continue;
    }
    try {
      out[key] = spec.parse(raw);
    } catch (e) {
      const why = e instanceof EnvValueError ? e.message : String(e);
      problems.push(`${key} ${why}${spec.secret ? '' : ` (got "${raw.slice(0, 80)}")`}`);
    }
  }
  if (out.DLS_STORAGE_DRIVER === 'zfs' && !env.DLS_ZFS_ROOT) problems.push('DLS_ZFS_ROOT is required when DLS_STORAGE_DRIVER=zfs');
  // The same policy as passwords set through the API; checked even once the admin exists (a password left in the
  // environment is very likely the admin's).
  const weak =
    typeof out.DLS_ADMIN_PASSWORD === 'string' &&
    passwordProblem(out.DLS_ADMIN_PASSWORD, [typeof out.DLS_ADMIN_USER === 'string' ? out.DLS_ADMIN_USER : '']);
  if (weak) problems.push(`DLS_ADMIN_PASSWORD ${weak} — or unset it to have one generated and printed at the first start`);
  if (problems.length) throw new ConfigValidationError(problems);
  return out as RawConfig;
}

/** Typed configuration, grouped by concern. Built once at boot; the only consumer of process.env is `loadConfig`. */
export class AppConfig {
  readonly http: { port: number; host: string; apiDocs: ApiDocsMode };
  readonly database: { url?: string; migrationsRun: boolean };
  readonly dataDir: string;
  readonly auth: { adminUser: string; adminPassword?: string; jwtSecret?: string; accessTtl: number; refreshTtl: number };
  readonly logLevel: LogLevel;
  readonly storage: {
    driver: 'dir' | 'zfs';
    dirClone: DirClone;
    /** Make enabled clients' disks before their first boot where clones are O(1). */
    disksAhead: boolean;
    zfsRoot?: string;
    minFreeBytes: number;
    dirRoot: string;
    importDir: string;
  };
  readonly boot: { serverIp?: string; sessionGraceSec: number; bootTimeoutSec: number; ipv6Ra: boolean; ipv6Enable: boolean; tcpQuickAck: boolean };
  /** Per-source-address limit of the boot routes; `null`: off. */
  readonly bootRateLimit: { burst: number; refillPerSecond: number } | null;
  readonly tftp: { enabled: boolean; address?: string; port: number; root: string; spinMicros: number };
  readonly dhcp: { enabled: boolean; port: number; queueCapacity: number; deadlineMs: number };
  /** `null`: no metrics listener. */
  readonly metrics: { host: string; port: number } | null;
  readonly corsOrigins: readonly string[];
  /** This node among those sharing the database: its name, range hold (ms) and size. */
  readonly node: { name: string; leaseMs: number; capacity: number; address: string | null };
  readonly events: { retentionSec: number; retentionCount: number; subscriberQueue: number };
  readonly iscsi: { enabled: boolean; manageTgtd: boolean; controlPort: number; portalAddress: string; portalPort: number; iqnPrefix: string };
  /** Wake-on-LAN: destination ports, the gap between packets, whether this node runs the schedules, and their grace. */
  readonly wol: { ports: readonly number[]; gapMs: number; schedules: boolean; scheduleGraceSec: number };

  constructor(raw: RawConfig) {
    const dataDir = path.resolve(raw.DLS_DATA_DIR);
    this.dataDir = dataDir;
    this.http = { port: raw.PORT, host: raw.HOST, apiDocs: raw.DLS_API_DOCS };
    this.database = { url: raw.DATABASE_URL, migrationsRun: raw.DLS_MIGRATIONS_RUN };
    this.auth = {
      adminUser: raw.DLS_ADMIN_USER,
      adminPassword: raw.DLS_ADMIN_PASSWORD,
      jwtSecret: raw.JWT_SECRET,
      accessTtl: raw.JWT_ACCESS_TTL,
      refreshTtl: raw.JWT_REFRESH_TTL,
    };
    this.logLevel = raw.LOG_LEVEL;
    this.storage = {
      driver: raw.DLS_STORAGE_DRIVER,
      dirClone: raw.DLS_DIR_CLONE,
      disksAhead: raw.DLS_DISKS_AHEAD,
      zfsRoot: raw.DLS_ZFS_ROOT,
      minFreeBytes: raw.DLS_STORAGE_MIN_FREE,
      dirRoot: path.join(dataDir, 'storage'),
      importDir: raw.DLS_IMPORT_DIR ? path.resolve(raw.DLS_IMPORT_DIR) : path.join(dataDir, 'import'),
    };
    this.boot = {
      serverIp: raw.DLS_BOOT_SERVER_IP,
      sessionGraceSec: raw.DLS_SESSION_GRACE,
      bootTimeoutSec: raw.DLS_BOOT_TIMEOUT,
      ipv6Ra: raw.DLS_IPV6_RA,
      ipv6Enable: raw.DLS_IPV6_ENABLE,
      tcpQuickAck: raw.DLS_TCP_QUICKACK,
    };
    this.bootRateLimit = raw.DLS_BOOT_RATE_PER_SECOND > 0 ? { burst: raw.DLS_BOOT_RATE_BURST, refillPerSecond: raw.DLS_BOOT_RATE_PER_SECOND } : null;
    this.tftp = {
      enabled: raw.DLS_TFTP_ENABLED,
      address: raw.DLS_TFTP_ADDRESS,
      port: raw.DLS_TFTP_PORT,
      root: raw.DLS_TFTP_ROOT ? path.resolve(raw.DLS_TFTP_ROOT) : path.join(dataDir, 'tftp'),
      spinMicros: raw.DLS_TFTP_SPIN_US,
    };
    this.dhcp = { enabled: raw.DLS_DHCP_ENABLED, port: raw.DLS_DHCP_PORT, queueCapacity: raw.DLS_DHCP_QUEUE, deadlineMs: raw.DLS_DHCP_DEADLINE_MS };
    const m = /^(.*):(\d+)$/.exec(raw.DLS_METRICS_ADDRESS);
    this.metrics = m ? { host: m[1], port: Number(m[2]) } : null;
    this.corsOrigins = raw.DLS_CORS_ORIGINS;
    // The host name, made a valid node name (DLS_NODE_NAME's alphabet and length) when it is not one.
    const host =
      os
        .hostname()
        .replace(/[^A-Za-z0-9._-]/g, '-')
        .replace(/^[^A-Za-z0-9]+/, '')
        .slice(0, 100) || 'dls';
    this.node = {
      name: raw.DLS_NODE_NAME ?? host,
      leaseMs: raw.DLS_NODE_LEASE * 1000,
      capacity: raw.DLS_NODE_CAPACITY,
      address: raw.DLS_NODE_ADDRESS ?? null,
    };
    this.events = {
      retentionSec: raw.DLS_EVENTS_MAX_AGE,
      retentionCount: raw.DLS_EVENTS_MAX_COUNT,
      subscriberQueue: raw.DLS_EVENTS_MAX_LAG,
    };
    const [portalAddress, portalPort] = raw.DLS_ISCSI_PORTAL.split(':');
    this.iscsi = {
      enabled: raw.DLS_ISCSI_ENABLED,
      manageTgtd: raw.DLS_TGTD_MANAGE,
      controlPort: raw.DLS_TGTD_CONTROL_PORT,
      portalAddress,
      portalPort: Number(portalPort),
      iqnPrefix: raw.DLS_ISCSI_IQN_PREFIX,
    };
    this.wol = {
      ports: raw.DLS_WOL_PORTS,
      gapMs: raw.DLS_WOL_GAP_MS,
      schedules: raw.DLS_WOL_SCHEDULES,
      scheduleGraceSec: raw.DLS_WOL_RUN_GRACE,
    };
  }
}

/** The one reader of process.env. Pass overrides in tests. */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  return new AppConfig(parseEnv(env));
}
