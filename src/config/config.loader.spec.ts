import { ConfigValidationError, loadConfig, parseEnv } from './config.loader';
import { TGT_MAX_CONTROL_PORT, TgtAdmAdapter } from '../modules/iscsi/tgt.adapter';
import { assertIqn } from '../modules/iscsi/tgt.validation';
import { assertDatasetName, assertSnapshotName } from '../modules/storage/zfs.adapter';

describe('config', () => {
  it('applies defaults when nothing is set', () => {
    const c = loadConfig({});
    expect(c.http.port).toBe(3000);
    expect(c.storage.driver).toBe('dir');
    expect(c.database.url).toBeUndefined();
    expect(c.database.migrationsRun).toBe(true);
    expect(c.auth.accessTtl).toBe(900);
    expect(c.iscsi.portalPort).toBe(3260);
    expect(c.http.apiDocs).toBe('public');
  });

  it('boot-route rate limit: 20 back to back then 2/s per address by default; off or 0 turns it off; bad values name the variable', () => {
    expect(loadConfig({}).bootRateLimit).toEqual({ burst: 20, refillPerSecond: 2 });
    expect(loadConfig({ DLS_BOOT_RATE_BURST: '200', DLS_BOOT_RATE_PER_SECOND: '0.5' }).bootRateLimit).toEqual({ burst: 200, refillPerSecond: 0.5 });
    expect(loadConfig({ DLS_BOOT_RATE_PER_SECOND: 'off' }).bootRateLimit).toBeNull();
    expect(loadConfig({ DLS_BOOT_RATE_PER_SECOND: '0' }).bootRateLimit).toBeNull();
    expect(() => parseEnv({ DLS_BOOT_RATE_PER_SECOND: 'fast' })).toThrow(/DLS_BOOT_RATE_PER_SECOND must be off, 0 or a positive number/);
    expect(() => parseEnv({ DLS_BOOT_RATE_PER_SECOND: '-1' })).toThrow(/DLS_BOOT_RATE_PER_SECOND/);
    expect(() => parseEnv({ DLS_BOOT_RATE_BURST: '0' })).toThrow(/DLS_BOOT_RATE_BURST must be between 1 and 1000000/);
  });

  it('DLS_DIR_CLONE: auto by default (reflink, else overlay); a bad value names the variable', () => {
    expect(loadConfig({}).storage.dirClone).toBe('auto');
    expect(loadConfig({ DLS_DIR_CLONE: 'copy' }).storage.dirClone).toBe('copy');
    expect(() => parseEnv({ DLS_DIR_CLONE: 'full' })).toThrow(/DLS_DIR_CLONE must be one of auto, reflink, overlay, copy/);
  });

  it('DLS_API_DOCS takes public, auth or off', () => {
    expect(loadConfig({ DLS_API_DOCS: 'auth' }).http.apiDocs).toBe('auth');
    expect(loadConfig({ DLS_API_DOCS: 'off' }).http.apiDocs).toBe('off');
    expect(() => parseEnv({ DLS_API_DOCS: 'private' })).toThrow(/DLS_API_DOCS must be one of public, auth, off/);
  });

  it('Wake-on-LAN: port 9, 10 ms between packets, schedules on, 10 min grace by default; ports as a list', () => {
    expect(loadConfig({}).wol).toEqual({ ports: [9], gapMs: 10, schedules: true, scheduleGraceSec: 600 });
    const c = loadConfig({ DLS_WOL_PORTS: '9, 7', DLS_WOL_GAP_MS: '0', DLS_WOL_SCHEDULES: 'false', DLS_WOL_RUN_GRACE: '2m' });
    expect(c.wol).toEqual({ ports: [9, 7], gapMs: 0, schedules: false, scheduleGraceSec: 120 });
    expect(() => parseEnv({ DLS_WOL_PORTS: '9,9' })).toThrow(/DLS_WOL_PORTS names a port twice/);
    expect(() => parseEnv({ DLS_WOL_PORTS: '0' })).toThrow(/DLS_WOL_PORTS must be between 1 and 65535/);
    expect(() => parseEnv({ DLS_WOL_PORTS: 'nine' })).toThrow(/DLS_WOL_PORTS must be an integer/);
    expect(() => parseEnv({ DLS_WOL_GAP_MS: '5000' })).toThrow(/DLS_WOL_GAP_MS must be between 0 and 1000/);
  });

  it('node: the host name (as a valid node name), a 10 s hold, 300 clients by default; names and holds are checked', () => {
    const d = loadConfig({}).node;
    expect(d).toEqual({ name: expect.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/), leaseMs: 10_000, capacity: 300, address: null });
    expect(loadConfig({ DLS_NODE_NAME: 'dls-b', DLS_NODE_LEASE: '3', DLS_NODE_CAPACITY: '50', DLS_NODE_ADDRESS: '10.0.9.2' }).node).toEqual({
      name: 'dls-b',
      leaseMs: 3000,
      capacity: 50,
      address: '10.0.9.2',
    });
    expect(() => parseEnv({ DLS_NODE_ADDRESS: 'dls-a.example' })).toThrow(/DLS_NODE_ADDRESS/);
    expect(() => parseEnv({ DLS_NODE_NAME: 'a b' })).toThrow(/DLS_NODE_NAME must match/);
    expect(() => parseEnv({ DLS_NODE_LEASE: '2' })).toThrow(/DLS_NODE_LEASE/);
  });

  it('parses units', () => {
    const c = loadConfig({ JWT_ACCESS_TTL: '15m', DLS_STORAGE_MIN_FREE: '2G', DLS_MIGRATIONS_RUN: 'false' });
    expect(c.auth.accessTtl).toBe(900);
    expect(c.storage.minFreeBytes).toBe(2 * 1024 ** 3);
    expect(c.database.migrationsRun).toBe(false);
  });

  it('refuses a weak DLS_ADMIN_PASSWORD, saying why, without echoing it', () => {
    for (const weak of ['12345678', 'password', '        ', 'admin1234']) {
      let err: ConfigValidationError | undefined;
      try {
        parseEnv({ DLS_ADMIN_PASSWORD: weak });
      } catch (e) {
        err = e as ConfigValidationError;
      }
      expect(err).toBeInstanceOf(ConfigValidationError);
      expect(err!.problems).toEqual([expect.stringMatching(/^DLS_ADMIN_PASSWORD is too easy to guess \(.+\).*unset it/)]);
    }
    const err = (() => {
      try {
        parseEnv({ DLS_ADMIN_PASSWORD: 'admin1234' });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).not.toContain('admin1234');
    expect(loadConfig({ DLS_ADMIN_PASSWORD: 'bench-admin-passphrase-7' }).auth.adminPassword).toBe('bench-admin-passphrase-7');
  });

  it('lists every bad key at once and masks secrets', () => {
    let err: ConfigValidationError | undefined;
    try {
      parseEnv({ PORT: 'eighty', LOG_LEVEL: 'loud', JWT_SECRET: 'short', DATABASE_URL: 'mysql://x', DLS_STORAGE_DRIVER: 'zfs' });
    } catch (e) {
      err = e as ConfigValidationError;
    }
    expect(err).toBeInstanceOf(ConfigValidationError);
    const text = err!.problems.join('\n');
    expect(text).toMatch(/PORT must be an integer \(got "eighty"\)/);
    expect(text).toMatch(/LOG_LEVEL must be one of/);
    expect(text).toMatch(/JWT_SECRET must be at least 32/);
    expect(text).not.toMatch(/short/);
    expect(text).toMatch(/DATABASE_URL must use postgres/);
    expect(text).toMatch(/DLS_ZFS_ROOT is required/);
    expect(err!.problems).toHaveLength(5);
  });
});

/** Issue 9 item 14: every bound here is the consumer's own, so a value that passes validation never fails at start. */
describe('config bounds agree with their consumers', () => {
  const problemsOf = (env: Record<string, string>): string[] => {
    try {
      parseEnv(env);
      return [];
    } catch (e) {
      return (e as ConfigValidationError).problems;
    }
  };
  const UUID = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d';

  it('DLS_TGTD_CONTROL_PORT: what passes, the tgt adapter takes; what it refuses, fails here', () => {
    expect(
      () => new TgtAdmAdapter({ controlPort: loadConfig({ DLS_TGTD_CONTROL_PORT: String(TGT_MAX_CONTROL_PORT) }).iscsi.controlPort }),
    ).not.toThrow();
    expect(() => new TgtAdmAdapter({ controlPort: TGT_MAX_CONTROL_PORT + 1 })).toThrow();
    expect(problemsOf({ DLS_TGTD_CONTROL_PORT: '39213' })).toEqual([
      `DLS_TGTD_CONTROL_PORT must be between 0 and ${TGT_MAX_CONTROL_PORT} (got "39213")`,
    ]);
  });

  it('DLS_ISCSI_PORTAL: an IPv4 address and a port 1–65535, as the tgtd supervisor demands', () => {
    expect(loadConfig({ DLS_ISCSI_PORTAL: '10.0.0.1:3260' }).iscsi).toMatchObject({ portalAddress: '10.0.0.1', portalPort: 3260 });
    for (const bad of ['10.0.0.1:0', '10.0.0.1:70000', '300.0.0.1:3260', '10.0.0.1']) {
      expect(problemsOf({ DLS_ISCSI_PORTAL: bad })).toHaveLength(1);
    }
  });

  it('DLS_ISCSI_IQN_PREFIX: the target and initiator names built from it pass tgt validation', () => {
    const ok = loadConfig({ DLS_ISCSI_IQN_PREFIX: 'iqn.2026-01.com.example.boot' }).iscsi.iqnPrefix;
    expect(() => assertIqn(`${ok}:client-${UUID}`)).not.toThrow();
    expect(() => assertIqn(`${ok}:initiator-${UUID}`)).not.toThrow();
    // Month 13, a label ending in '-', and a prefix so long the initiator name passes 223 bytes: all refused by tgt.
    for (const bad of ['iqn.2026-13.io.dls', 'iqn.2026-01.io-.dls', `iqn.2026-01.io.${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(40)}`]) {
      expect(() => assertIqn(`${bad}:initiator-${UUID}`)).toThrow();
      expect(problemsOf({ DLS_ISCSI_IQN_PREFIX: bad })).toHaveLength(1);
    }
  });

  it('DLS_ZFS_ROOT: the datasets and snapshots the zfs driver makes under it pass the zfs adapter', () => {
    const longest = (root: string) => `${root}/images/${UUID}@v-${UUID}`;
    let root = 'tank/dls';
    while (!problemsOf({ DLS_STORAGE_DRIVER: 'zfs', DLS_ZFS_ROOT: `${root}x` }).length) root += 'x';
    expect(() => assertSnapshotName(longest(root))).not.toThrow();
    expect(() => assertSnapshotName(longest(`${root}x`))).toThrow();
    // Upper case passed the old pattern and fails the adapter's allow-list.
    expect(() => assertDatasetName('Tank/dls')).toThrow();
    expect(problemsOf({ DLS_STORAGE_DRIVER: 'zfs', DLS_ZFS_ROOT: 'Tank/dls' })).toHaveLength(1);
  });

  it('durations, sizes, the HTTP port and host stay within what their users can take', () => {
    expect(problemsOf({ JWT_ACCESS_TTL: '0' })).toHaveLength(1); // a token that expires as it is issued
    expect(problemsOf({ DLS_SESSION_GRACE: '99999999999999999999d' })).toHaveLength(1);
    expect(problemsOf({ DLS_STORAGE_MIN_FREE: '99999999T' })).toHaveLength(1); // past Number.MAX_SAFE_INTEGER
    expect(problemsOf({ PORT: '0' })).toHaveLength(1); // iPXE scripts name this port
    expect(problemsOf({ HOST: 'not a host' })).toHaveLength(1);
    expect(loadConfig({ HOST: '::1' }).http.host).toBe('::1');
    expect(loadConfig({ HOST: 'localhost', DLS_SESSION_GRACE: '2m' }).boot.sessionGraceSec).toBe(120);
  });
});
