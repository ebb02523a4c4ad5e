import { QueryFailedError } from 'typeorm';
import { cidrOverlapMessage, isExclusionViolation, mapDatabaseError } from './pg-errors';

const pgError = (fields: Record<string, string>) => new QueryFailedError('INSERT …', [], Object.assign(new Error(fields.message ?? 'x'), fields));

describe('mapDatabaseError', () => {
  it.each(['40P01', '40001'])('maps the transient %s to a 409 that says to retry (never a 500)', (code) => {
    const e = mapDatabaseError(pgError({ code, message: 'deadlock detected' }));
    expect(e).toMatchObject({ kind: 'conflict', code: 'CONCURRENT_CHANGE' });
  });

  it('maps an overlapping network range to a 409 naming both CIDRs', () => {
    const err = pgError({
      code: '23P01',
      constraint: 'network_ranges_cidr_excl',
      detail: 'Key (cidr)=(10.0.7.0/24) conflicts with existing key (cidr)=(10.0.0.0/16).',
    });
    expect(isExclusionViolation(err, 'network_ranges_cidr_excl')).toBe(true);
    expect(mapDatabaseError(err)).toMatchObject({ kind: 'conflict', message: 'cidr 10.0.7.0/24 overlaps another network range (10.0.0.0/16)' });
    expect(cidrOverlapMessage('')).toBe('the CIDR overlaps an existing network range');
  });

  it('maps a second reservation of one address to a 409', () => {
    const err = pgError({ code: '23505', constraint: 'uq_clients_ip_address', detail: 'Key (ip_address)=(10.0.0.5) already exists.' });
    expect(mapDatabaseError(err)).toMatchObject({ kind: 'conflict', message: 'ipAddress 10.0.0.5 is already reserved for another client' });
  });

  it.each(['22021', '22P05'])('maps the encoding error %s (a NUL that got through) to a 400', (code) => {
    expect(mapDatabaseError(pgError({ code, message: 'invalid byte sequence for encoding "UTF8": 0x00' }))).toMatchObject({ kind: 'validation' });
  });
});
