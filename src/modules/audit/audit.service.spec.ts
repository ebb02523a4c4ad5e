import { Repository } from 'typeorm';
import { AuditLog } from './audit-log.entity';
import { AuditService } from './audit.service';

function setup(fail = false) {
  const insert = jest.fn(async () => {
    if (fail) throw new Error('database down');
    return {};
  });
  const emit = jest.fn();
  const service = new AuditService({ insert } as unknown as Repository<AuditLog>, { emit });
  return { service, insert, emit };
}

describe('AuditService.recordMany', () => {
  it('writes every entry with one insert (secrets redacted) and publishes each one’s events', async () => {
    const t = setup();
    await t.service.recordMany([
      { action: 'dhcp.client-registered', entityType: 'clients', entityId: 'a', details: { mac: '52:54:00:00:00:01', token: 'x' } },
      { action: 'dhcp.client-registered', entityType: 'clients', entityId: 'b' },
      { action: 'auth.login', entityType: 'auth', statusCode: 200 },
    ]);
    expect(t.insert).toHaveBeenCalledTimes(1);
    const rows = (t.insert.mock.calls[0] as unknown as [Record<string, unknown>[]])[0];
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatchObject({ entityId: 'a', details: { mac: '52:54:00:00:00:01', token: '[REDACTED]' } });
    expect(rows[1]).toMatchObject({ entityId: 'b', details: null });
    const kinds = t.emit.mock.calls.map((c: unknown[]) => `${String(c[0])}:${(c[1] as { entityId?: string | null }).entityId ?? '-'}`);
    // An auth record changes no record anyone is shown: no `change` event for it.
    expect(kinds).toEqual(['audit:a', 'change:a', 'audit:b', 'change:b', 'audit:-']);
    expect(t.emit.mock.calls.every((c: unknown[]) => !('details' in (c[1] as object)))).toBe(true);
  });

  it('does nothing for no entries, and resolves without events when the insert fails', async () => {
    const t = setup();
    await t.service.recordMany([]);
    expect(t.insert).not.toHaveBeenCalled();
    const f = setup(true);
    await expect(
      f.service.recordMany([
        { action: 'x.y', entityType: 'x' },
        { action: 'x.z', entityType: 'x' },
      ]),
    ).resolves.toBeUndefined();
    expect(f.emit).not.toHaveBeenCalled();
  });
});
