import { describeDays, describeWhen, fieldErrors, rangeBody, EMPTY_RANGE_FORM, scheduleBody, splitList } from './admin-forms';

describe('admin forms', () => {
  it('puts a domain rule problem next to the field it names (details.fields: field + message)', () => {
    const e = {
      status: 400,
      code: 'NETWORK_RANGE_INVALID',
      message: 'gateway 10.9.0.1 is outside 10.8.0.0/24; the pool 10.8.0.1-10.8.0.9 includes the gateway 10.8.0.1',
      details: {
        fields: [
          { field: 'gateway', message: 'gateway 10.9.0.1 is outside 10.8.0.0/24' },
          { field: 'poolStart', message: 'the pool includes the network address 10.8.0.0' },
          { field: 'gateway', message: 'the pool includes the gateway' },
        ],
      },
    };
    const r = fieldErrors(e, ['gateway', 'poolStart']);
    expect(r.fields).toEqual({
      gateway: 'gateway 10.9.0.1 is outside 10.8.0.0/24; the pool includes the gateway',
      poolStart: 'the pool includes the network address 10.8.0.0',
    });
    expect(r.general).toBeNull();
  });

  it('reads input validation (details.fields: field + messages) and a 409 naming one field', () => {
    const v = {
      status: 400,
      code: 'VALIDATION_FAILED',
      message: 'password is too easy to guess',
      details: { fields: [{ field: 'password', messages: ['password is too easy to guess'] }] },
    };
    expect(fieldErrors(v, ['username', 'password']).fields).toEqual({ password: 'password is too easy to guess' });
    const c = { status: 409, code: 'NETWORK_RANGE_OVERLAP', message: 'cidr 10.0.0.0/24 overlaps "a"', details: { field: 'cidr' } };
    expect(fieldErrors(c, ['cidr'])).toEqual({ fields: { cidr: 'cidr 10.0.0.0/24 overlaps "a"' }, general: null });
  });

  it('without details, finds the field each problem of the message starts with', () => {
    const e = { status: 400, code: 'VALIDATION_FAILED', message: 'cron is not a cron expression; time must match HH:MM; something else' };
    expect(fieldErrors(e, ['cron', 'time', 'timezone'])).toEqual({
      fields: { cron: 'cron is not a cron expression', time: 'time must match HH:MM' },
      general: 'something else',
    });
    expect(fieldErrors({ message: 'password is too easy to guess (it is common)' }, ['username', 'password']).fields).toEqual({
      password: 'password is too easy to guess (it is common)',
    });
  });

  it('sends what names no field of the form, or no field at all, to general', () => {
    const e = {
      message: 'tags.1: bad; name: too long',
      details: {
        fields: [
          { field: 'tags.1', messages: ['bad'] },
          { field: 'name', messages: ['too long'] },
        ],
      },
    };
    expect(fieldErrors(e, ['name'])).toEqual({ fields: { name: 'too long' }, general: 'bad' });
    expect(fieldErrors({ message: 'group still has clients' })).toEqual({ fields: {}, general: 'group still has clients' });
    expect(fieldErrors(new Error('offline')).general).toBe('offline');
  });

  it('turns the range form into a full body (blank → null, DNS list split)', () => {
    const body = rangeBody({ ...EMPTY_RANGE_FORM, name: ' lab ', cidr: '10.0.0.0/24', gateway: ' ', dnsServers: '10.0.0.1, 10.0.0.2 1.1.1.1' });
    expect(body).toMatchObject({ name: 'lab', cidr: '10.0.0.0/24', gateway: null, interface: null, poolStart: null, leaseSeconds: 3600 });
    expect(body.dnsServers).toEqual(['10.0.0.1', '10.0.0.2', '1.1.1.1']);
    expect(splitList('')).toEqual([]);
  });

  it('describes schedules and builds days+time or cron bodies, never both', () => {
    expect(describeDays(['fri', 'mon', 'tue', 'wed', 'thu'])).toBe('Mon–Fri');
    expect(describeDays(['mon', 'wed', 'sat', 'sun'])).toBe('Mon, Wed, Sat, Sun');
    expect(describeDays(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'])).toBe('Every day');
    expect(describeWhen({ days: ['mon', 'tue'], time: '07:45', cron: '45 7 * * 1,2' })).toBe('Mon, Tue 07:45');
    expect(describeWhen({ days: null, time: null, cron: '*/5 * * * *' })).toBe('cron */5 * * * *');
    const f = { groupId: 'g', kind: 'days' as const, days: ['fri', 'mon'], time: '07:45', cron: '1 2 * * *', timezone: 'UTC', enabled: true };
    expect(scheduleBody(f)).toEqual({ groupId: 'g', timezone: 'UTC', enabled: true, days: ['mon', 'fri'], time: '07:45' });
    expect(scheduleBody({ ...f, kind: 'cron' })).toEqual({ groupId: 'g', timezone: 'UTC', enabled: true, cron: '1 2 * * *' });
  });
});
