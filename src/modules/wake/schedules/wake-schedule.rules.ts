/**
 * Wake schedules as data: a 5-field cron expression (minute hour day-of-month month day-of-week) read in an IANA time
 * zone. The API also takes the common case as `days` + `time` ("mon–fri at 07:45"), which is stored as the cron
 * expression it means. Pure functions; the occurrences come from the `cron` package's CronTime (the library behind
 * @nestjs/schedule), which follows the zone's daylight-saving changes.
 */
import { CronTime } from 'cron';

/** Day names in cron's day-of-week order (0 = Sunday; cron also takes 7 for Sunday). */
export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** `HH:MM`, 24-hour. */
export const TIME_OF_DAY = /^([01]\d|2[0-3]):([0-5]\d)$/;
/** Longest cron expression accepted (and stored). */
export const CRON_MAX_LENGTH = 100;

/** The cron expression of "these days at this time": `M H * * d,d,…` with days in week order. */
export function cronOf(days: readonly Weekday[], time: string): string {
  const m = TIME_OF_DAY.exec(time);
  if (!m) throw new RangeError(`time must be HH:MM, got ${time}`);
  const dow = [...new Set(days.map((d) => WEEKDAYS.indexOf(d)))].sort((a, b) => a - b);
  if (!dow.length || dow.includes(-1)) throw new RangeError(`days must name weekdays, got ${days.join(',')}`);
  return `${Number(m[2])} ${Number(m[1])} * * ${dow.join(',')}`;
}

const NUMBER = /^\d{1,2}$/;

/**
 * `days` and `time` of a cron expression that says nothing more than "these weekdays at HH:MM" (minute and hour
 * plain numbers, day-of-month and month `*`, day-of-week `*` or a list of days and ranges, by number or name), or
 * null for anything else (steps, several hours, days of the month).
 */
export function daysAndTimeOf(cron: string): { days: Weekday[]; time: string } | null {
  const f = cron.trim().split(/\s+/);
  if (f.length !== 5 || !NUMBER.test(f[0]) || !NUMBER.test(f[1]) || f[2] !== '*' || f[3] !== '*') return null;
  const minute = Number(f[0]);
  const hour = Number(f[1]);
  if (minute > 59 || hour > 23) return null;
  const day = (s: string): number | null => {
    const n = NUMBER.test(s) ? Number(s) : WEEKDAYS.indexOf(s.toLowerCase() as Weekday);
    return n >= 0 && n <= 7 ? n % 7 : null;
  };
  const set = new Set<number>();
  if (f[4] === '*') [0, 1, 2, 3, 4, 5, 6].forEach((d) => set.add(d));
  else {
    for (const part of f[4].split(',')) {
      const [a, b, extra] = part.split('-');
      if (extra !== undefined) return null;
      const from = day(a);
      const to = b === undefined ? from : day(b);
      // A range ending on 7 (Sunday) keeps its order: 5-7 is fri, sat, sun.
      const end = b !== undefined && Number(b) === 7 ? 7 : to;
      if (from === null || to === null || end === null || end < from) return null;
      for (let d = from; d <= end; d++) set.add(d % 7);
    }
  }
  const days = WEEKDAYS.filter((_, i) => set.has(i));
  return { days: [...days], time: `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}` };
}

/** Whether `tz` is an IANA time zone this runtime knows (`Europe/Berlin`, `UTC`). */
export function isTimeZone(tz: string): boolean {
  if (typeof tz !== 'string' || tz.length === 0 || tz.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * Why `cron` is no wake schedule, or null when it is one: exactly 5 fields (no seconds field: schedules run at
 * minute resolution), each valid, and an expression that ever fires (`0 0 30 2 *` never does).
 */
export function cronProblem(cron: string): string | null {
  if (typeof cron !== 'string' || cron.trim() === '') return 'is empty';
  if (cron.length > CRON_MAX_LENGTH) return `is longer than ${CRON_MAX_LENGTH} characters`;
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5) return `must have 5 fields (minute hour day-of-month month day-of-week), not ${fields.length}`;
  const { valid, error } = CronTime.validateCronExpression(cron);
  if (!valid) return `is not a cron expression: ${error?.message ?? 'invalid'}`;
  try {
    new CronTime(cron, 'UTC').getNextDateFrom(new Date(), 'UTC');
  } catch {
    return 'never fires';
  }
  return null;
}

/** The first time `cron`, read in `timeZone`, fires strictly after `after`. Both must be valid. */
export function nextRun(cron: string, timeZone: string, after: Date): Date {
  return new CronTime(cron, timeZone).getNextDateFrom(after, timeZone).toJSDate();
}
