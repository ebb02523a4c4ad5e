import { cronOf, cronProblem, daysAndTimeOf, isTimeZone, nextRun } from './wake-schedule.rules';

describe('wake schedule rules', () => {
  it('days + time become a cron expression in week order, and read back', () => {
    expect(cronOf(['fri', 'mon', 'wed', 'mon'], '07:45')).toBe('45 7 * * 1,3,5');
    expect(cronOf(['sun', 'sat'], '00:00')).toBe('0 0 * * 0,6');
    expect(daysAndTimeOf('45 7 * * 1,3,5')).toEqual({ days: ['mon', 'wed', 'fri'], time: '07:45' });
    expect(() => cronOf([], '07:45')).toThrow(RangeError);
    expect(() => cronOf(['mon'], '7:45')).toThrow(RangeError);
  });

  it('reads the common forms of "weekdays at HH:MM" back as days and time; anything more is null', () => {
    expect(daysAndTimeOf('45 7 * * 1-5')).toEqual({ days: ['mon', 'tue', 'wed', 'thu', 'fri'], time: '07:45' });
    expect(daysAndTimeOf('0 8 * * mon-fri')).toEqual({ days: ['mon', 'tue', 'wed', 'thu', 'fri'], time: '08:00' });
    expect(daysAndTimeOf('0 8 * * 5-7')).toEqual({ days: ['sun', 'fri', 'sat'], time: '08:00' });
    expect(daysAndTimeOf('30 23 * * *')?.days).toHaveLength(7);
    expect(daysAndTimeOf('0 9 * * 7')).toEqual({ days: ['sun'], time: '09:00' });
    for (const other of ['*/5 * * * *', '0 8,12 * * 1', '0 8 1 * *', '0 8 * 1 *', '0 8 * * 1-5/2', '0 8 * * 5-1', '0 0 0 * * *']) {
      expect(daysAndTimeOf(other)).toBeNull();
    }
  });

  it('cronProblem: 5 valid fields that fire some day', () => {
    expect(cronProblem('45 7 * * 1-5')).toBeNull();
    expect(cronProblem('*/10 6-8 * * mon-fri')).toBeNull();
    expect(cronProblem('0 0 * * * *')).toMatch(/5 fields/);
    expect(cronProblem('* * *')).toMatch(/5 fields/);
    expect(cronProblem('61 7 * * *')).toMatch(/not a cron expression/);
    expect(cronProblem('a b c d e')).toMatch(/not a cron expression/);
    expect(cronProblem('0 0 30 2 *')).toBe('never fires');
    expect(cronProblem('   ')).toBe('is empty');
    expect(cronProblem(`0 0 * * ${'1,'.repeat(60)}1`)).toMatch(/longer than 100/);
  });

  it('isTimeZone: IANA names only', () => {
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(isTimeZone('')).toBe(false);
  });

  it('nextRun: strictly after, in the schedule’s zone, across daylight-saving changes', () => {
    const weekdays = '45 7 * * 1-5';
    // Friday 27 March 2026, 12:00 UTC → Monday 30 March 07:45 in Berlin (CEST since 29 March: 05:45 UTC).
    expect(nextRun(weekdays, 'Europe/Berlin', new Date('2026-03-27T12:00:00Z')).toISOString()).toBe('2026-03-30T05:45:00.000Z');
    // Exactly at an occurrence: the next one.
    expect(nextRun(weekdays, 'Europe/Berlin', new Date('2026-03-30T05:45:00Z')).toISOString()).toBe('2026-03-31T05:45:00.000Z');
    // Before the change (CET): 06:45 UTC.
    expect(nextRun(weekdays, 'Europe/Berlin', new Date('2026-03-20T00:00:00Z')).toISOString()).toBe('2026-03-20T06:45:00.000Z');
    expect(nextRun(weekdays, 'UTC', new Date('2026-03-20T00:00:00Z')).toISOString()).toBe('2026-03-20T07:45:00.000Z');
  });
});
