import { auditQuery, EMPTY_FILTERS, localToIso, nextSort, statusColor } from './audit-query';

describe('audit page query', () => {
  it('sends only the filters that are set, newest first by default', () => {
    expect(auditQuery(EMPTY_FILTERS)).toEqual({ limit: 50, offset: 0 });
    expect(
      auditQuery({ ...EMPTY_FILTERS, action: ' clients.create ', entityType: 'clients', userId: 'u1', q: ' adm ', page: 3, sort: 'action' }),
    ).toEqual({ limit: 50, offset: 100, action: 'clients.create', entityType: 'clients', userId: 'u1', q: 'adm', sort: 'action' });
  });

  it('maps a status class to an inclusive range', () => {
    expect(auditQuery({ ...EMPTY_FILTERS, status: '4xx' })).toMatchObject({ statusMin: 400, statusMax: 499 });
    expect(auditQuery({ ...EMPTY_FILTERS, status: 'errors' })).toMatchObject({ statusMin: 400, statusMax: 599 });
  });

  it('turns datetime-local values into instants and ignores invalid ones', () => {
    const iso = localToIso('2026-12-05T14:30');
    expect(iso).toBe(new Date(2026, 11, 5, 14, 30).toISOString());
    expect(auditQuery({ ...EMPTY_FILTERS, from: '2026-12-05T14:30', to: 'garbage' })).toEqual({ limit: 50, offset: 0, from: iso });
    expect(localToIso('')).toBeUndefined();
  });

  it('toggles column sort and colours statuses', () => {
    expect(nextSort('-at', 'at')).toBe('at');
    expect(nextSort('at', 'at')).toBe('-at');
    expect(nextSort('-at', 'action')).toBe('-action');
    expect([201, 304, 409, 500, null].map(statusColor)).toEqual(['teal', 'blue', 'orange', 'red', 'gray']);
  });
});
