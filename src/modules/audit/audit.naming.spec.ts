import { actionOf, entityTypeOf, normalizeAddress, REDACTED, redactSecrets, storableText } from './audit.naming';

describe('redactSecrets', () => {
  it('redacts any key matching password|secret|token at any depth, case-insensitively', () => {
    const out = redactSecrets({
      username: 'bob',
      password: 'p',
      newPassword: 'q',
      chap: { secret: 's', CHAPSecret: 't', user: 'u' },
      list: [{ refreshToken: 'r', ok: 1 }],
      accessTOKEN: 'a',
    });
    expect(out).toEqual({
      username: 'bob',
      password: REDACTED,
      newPassword: REDACTED,
      chap: { secret: REDACTED, CHAPSecret: REDACTED, user: 'u' },
      list: [{ refreshToken: REDACTED, ok: 1 }],
      accessTOKEN: REDACTED,
    });
  });

  it('redacts a secret even when its value is an object', () => {
    expect(redactSecrets({ secrets: { a: 1 } })).toEqual({ secrets: REDACTED });
  });

  it('bounds strings, arrays and depth', () => {
    const out = redactSecrets({ s: 'x'.repeat(5000), a: Array.from({ length: 150 }, (_, i) => i) }) as { s: string; a: unknown[] };
    expect(out.s.length).toBe(1025);
    expect(out.a).toHaveLength(101);
    expect(out.a[100]).toBe('[… 50 more]');
    let deep: Record<string, unknown> = { v: 1 };
    for (let i = 0; i < 10; i++) deep = { d: deep };
    expect(JSON.stringify(redactSecrets(deep))).toContain('[…]');
  });

  it('replaces NUL and unpaired surrogates (which PostgreSQL refuses) in strings and keys, keeping pairs', () => {
    const out = redactSecrets({ name: 'a\u0000b', ['k\u0000']: ['\ud800x', 'y\udfff', '😀'] });
    expect(out).toEqual({ name: 'a\ufffdb', ['k\ufffd']: ['\ufffdx', 'y\ufffd', '😀'] });
    expect(storableText('\udc00\ud800')).toBe('\ufffd\ufffd');
  });

  it("keeps a __proto__ key as a key (not as the copy's prototype)", () => {
    const out = redactSecrets(JSON.parse('{"__proto__":{"role":"admin"}}')) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['__proto__']);
    expect(JSON.stringify(out)).toBe('{"__proto__":{"role":"admin"}}');
    expect((out as { role?: string }).role).toBeUndefined();
  });

  it('passes scalars and null through', () => {
    expect(redactSecrets(null)).toBeNull();
    expect(redactSecrets(undefined)).toBeNull();
    expect(redactSecrets(3)).toBe(3);
    expect(redactSecrets(true)).toBe(true);
  });
});

describe('entityTypeOf / actionOf', () => {
  it('uses the last literal path segment after the API prefix', () => {
    expect(entityTypeOf('api/v1/clients', 'ClientsController')).toBe('clients');
    expect(entityTypeOf('api/v1/images/:imageId/snapshots', 'SnapshotsController')).toBe('snapshots');
    expect(entityTypeOf(['api/v1/boot-sessions'], 'X')).toBe('boot-sessions');
  });

  it('falls back to the class name', () => {
    expect(entityTypeOf('/', 'NetworkRangesController')).toBe('network-ranges');
    expect(entityTypeOf(undefined, 'AuthController')).toBe('auth');
  });

  it('normalises CRUD verbs and kebab-cases the rest', () => {
    expect(actionOf('clients', 'create')).toBe('clients.create');
    expect(actionOf('clients', 'update')).toBe('clients.update');
    expect(actionOf('clients', 'remove')).toBe('clients.delete');
    expect(actionOf('auth', 'login')).toBe('auth.login');
    expect(actionOf('images', 'publishVersion')).toBe('images.publish-version');
  });
});

describe('normalizeAddress', () => {
  it('unwraps IPv4-mapped IPv6 and rejects junk', () => {
    expect(normalizeAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeAddress('::1')).toBe('::1');
    expect(normalizeAddress('fe80::1')).toBe('fe80::1');
    expect(normalizeAddress('nope')).toBeNull();
    expect(normalizeAddress(undefined)).toBeNull();
  });
});
