import { ConfigValidationError, loadConfig, parseEnv } from './config.loader';

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

  it('DLS_API_DOCS takes public, auth or off', () => {
    expect(loadConfig({ DLS_API_DOCS: 'auth' }).http.apiDocs).toBe('auth');
    expect(loadConfig({ DLS_API_DOCS: 'off' }).http.apiDocs).toBe('off');
    expect(() => parseEnv({ DLS_API_DOCS: 'private' })).toThrow(/DLS_API_DOCS must be one of public, auth, off/);
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
