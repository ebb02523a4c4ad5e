import * as path from 'node:path';
import { bool, bytes, EnvValueError, EnvVar, int, ipv4, oneOf, seconds, str, url } from './env.schema';

export type LogLevel = 'error' | 'warn' | 'log' | 'debug' | 'verbose';

/** Every environment variable DLS reads. README.md documents the same list. */
export const ENV = {
  PORT: { default: 3000, parse: int(0, 65535), description: 'HTTP port of the API, Swagger UI and iPXE scripts' },
  HOST: { default: '0.0.0.0', parse: str({ min: 1 }), description: 'HTTP bind address' },
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
  DLS_ADMIN_PASSWORD: { parse: str({ min: 8, max: 256 }), secret: true, description: 'first admin password; unset = generated and printed once' },
  JWT_SECRET: { parse: str({ min: 32 }), secret: true, description: 'JWT signing secret; unset = generated once and kept in the data dir' },
  JWT_ACCESS_TTL: { default: 900, parse: seconds, description: 'access-token lifetime' },
  JWT_REFRESH_TTL: { default: 7 * 86400, parse: seconds, description: 'refresh-token lifetime' },
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- widens the default to the parser's type
  LOG_LEVEL: { default: 'log' as LogLevel, parse: oneOf<LogLevel>('error', 'warn', 'log', 'debug', 'verbose'), description: 'log verbosity' },
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- widens the default to the parser's type
  DLS_STORAGE_DRIVER: { default: 'dir' as 'dir' | 'zfs', parse: oneOf('dir', 'zfs'), description: 'storage driver' },
  DLS_ZFS_ROOT: {
    parse: str({ pattern: /^[A-Za-z0-9][A-Za-z0-9_.:-]*(\/[A-Za-z0-9][A-Za-z0-9_.:-]*)*$/ }),
    description: 'dataset under which the zfs driver keeps everything, e.g. tank/dls',
  },
  DLS_STORAGE_MIN_FREE: { default: 1024 ** 3, parse: bytes, description: 'refuse storage operations that would leave less free space (507)' },
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
  DLS_DHCP_ENABLED: { default: true, parse: bool, description: 'run the DHCP/proxyDHCP server for enabled network ranges with an interface' },
  DLS_DHCP_PORT: { default: 67, parse: int(1, 65535), description: 'DHCP server port (tests only change this)' },
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
  DLS_TGTD_CONTROL_PORT: { default: 213, parse: int(0, 65535), description: 'tgtd control port (-C), keeps ours apart from any other tgtd' },
  DLS_ISCSI_PORTAL: {
    default: '0.0.0.0:3260',
    parse: str({ pattern: /^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/ }),
    description: 'address:port tgtd listens on; scripts name an explicit address as is, 0.0.0.0 as the address the client reached DLS on',
  },
  DLS_ISCSI_IQN_PREFIX: {
    default: 'iqn.2026-11.io.dls',
    parse: str({ pattern: /^iqn\.\d{4}-\d{2}\.[a-z0-9.-]+$/ }),
    description: 'IQN prefix of our targets and initiators',
  },
  DLS_SESSION_GRACE: { default: 60, parse: seconds, description: 'a session whose iSCSI connection is gone this long is shut down' },
  DLS_BOOT_TIMEOUT: { default: 300, parse: seconds, description: 'a session with no iSCSI login this long after DHCP is marked error' },
  DLS_EVENTS_MAX_AGE: { default: 900, parse: seconds, description: 'events older than this are pruned (the Last-Event-ID resume window)' },
  DLS_EVENTS_MAX_COUNT: { default: 10_000, parse: int(100, 10_000_000), description: 'at most this many newest events are kept for resuming' },
  DLS_EVENTS_MAX_LAG: {
    default: 1000,
    parse: int(500, 1_000_000),
    description: 'how many events a stream subscriber may fall behind (the shared in-memory ring) before it is dropped (final event `dropped`)',
  },
} satisfies Record<string, EnvVar<unknown>>;

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
  if (out.DLS_STORAGE_DRIVER === 'zfs' && !out.DLS_ZFS_ROOT) problems.push('DLS_ZFS_ROOT is required when DLS_STORAGE_DRIVER=zfs');
  if (problems.length) throw new ConfigValidationError(problems);
  return out as RawConfig;
}

/** Typed configuration, grouped by concern. Built once at boot; the only consumer of process.env is `loadConfig`. */
export class AppConfig {
  readonly http: { port: number; host: string };
  readonly database: { url?: string; migrationsRun: boolean };
  readonly dataDir: string;
  readonly auth: { adminUser: string; adminPassword?: string; jwtSecret?: string; accessTtl: number; refreshTtl: number };
  readonly logLevel: LogLevel;
  readonly storage: { driver: 'dir' | 'zfs'; zfsRoot?: string; minFreeBytes: number; dirRoot: string; importDir: string };
  readonly boot: { serverIp?: string; sessionGraceSec: number; bootTimeoutSec: number; ipv6Ra: boolean; ipv6Enable: boolean; tcpQuickAck: boolean };
  readonly tftp: { enabled: boolean; address?: string; port: number; root: string };
  readonly dhcp: { enabled: boolean; port: number };
  readonly events: { retentionSec: number; retentionCount: number; subscriberQueue: number };
  readonly iscsi: { enabled: boolean; manageTgtd: boolean; controlPort: number; portalAddress: string; portalPort: number; iqnPrefix: string };

  constructor(raw: RawConfig) {
    const dataDir = path.resolve(raw.DLS_DATA_DIR);
    this.dataDir = dataDir;
    this.http = { port: raw.PORT, host: raw.HOST };
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
    this.tftp = {
      enabled: raw.DLS_TFTP_ENABLED,
      address: raw.DLS_TFTP_ADDRESS,
      port: raw.DLS_TFTP_PORT,
      root: raw.DLS_TFTP_ROOT ? path.resolve(raw.DLS_TFTP_ROOT) : path.join(dataDir, 'tftp'),
    };
    this.dhcp = { enabled: raw.DLS_DHCP_ENABLED, port: raw.DLS_DHCP_PORT };
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
  }
}

/** The one reader of process.env. Pass overrides in tests. */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  return new AppConfig(parseEnv(env));
}
