/**
 * Pure helpers of the admin pages' forms (unit-tested in admin-forms.spec.ts): which field an API error names,
 * form values → request bodies, and how a wake schedule reads.
 */

/** An API error as the pages see it (ApiError's shape; duck-typed so this file imports nothing). */
interface ErrorLike {
  status?: number;
  code?: string;
  message?: string;
  details?: Record<string, unknown>;
}

/** Per-field messages of a failed write, plus what names no field of the form. */
export interface FieldErrors {
  fields: Record<string, string>;
  /** The message when no field of the form is named (shown above the buttons). */
  general: string | null;
}

function add(into: Record<string, string>, field: string, message: string): void {
  into[field] = into[field] ? `${into[field]}; ${message}` : message;
}

/**
 * The API's own words, per field: `details.fields` (`[{field, message}]` from domain rules, `[{field, messages}]`
 * from input validation), else `details.field` (409s and single-field 400s) gets the whole message. Fields the form
 * does not show (`known`, when given) and messages naming no field go to `general`.
 */
export function fieldErrors(e: unknown, known?: readonly string[]): FieldErrors {
  const err = (e ?? {}) as ErrorLike;
  const message = typeof err.message === 'string' ? err.message : String(e);
  const fields: Record<string, string> = {};
  const details = err.details ?? {};
  const list = Array.isArray(details.fields) ? (details.fields as { field?: unknown; message?: unknown; messages?: unknown }[]) : null;
  if (list) {
    for (const f of list) {
      if (typeof f?.field !== 'string') continue;
      const field = f.field.split('.')[0];
      if (typeof f.message === 'string') add(fields, field, f.message);
      if (Array.isArray(f.messages)) for (const m of f.messages) if (typeof m === 'string') add(fields, field, m);
    }
  } else if (typeof details.field === 'string') {
    add(fields, details.field, message);
  } else if (known) {
    // Input validation's 400 carries no details here: its `message` lists problems, each starting with its field.
    for (const part of message.split('; ')) {
      const field = known.find((f) => part.startsWith(`${f} `) || part.startsWith(`${f}:`) || part.startsWith(`${f}.`));
      if (field) add(fields, field, part);
      else add(fields, '', part);
    }
  }
  let general: string | null = null;
  if (known) {
    for (const f of Object.keys(fields)) {
      if (!known.includes(f)) {
        general = general ? `${general}; ${fields[f]}` : fields[f];
        delete fields[f];
      }
    }
  }
  if (Object.keys(fields).length === 0) general = message;
  return { fields, general };
}

/** A text input's value as a nullable API field: blank → null, else trimmed. */
export function blankToNull(v: string): string | null {
  const t = v.trim();
  return t === '' ? null : t;
}

/** "10.0.0.1, 10.0.0.2" (commas or spaces) → ['10.0.0.1', '10.0.0.2']. */
export function splitList(v: string): string[] {
  return v
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** The network range form as typed (strings, as the inputs hold them). */
export interface RangeForm {
  name: string;
  cidr: string;
  interface: string;
  dhcpMode: 'full' | 'proxy' | 'off';
  gateway: string;
  poolStart: string;
  poolEnd: string;
  dnsServers: string;
  leaseSeconds: number | string;
  nextServer: string;
  unknownClientPolicy: 'ignore' | 'register';
  enabled: boolean;
}

export const EMPTY_RANGE_FORM: RangeForm = {
  name: '',
  cidr: '',
  interface: '',
  dhcpMode: 'full',
  gateway: '',
  poolStart: '',
  poolEnd: '',
  dnsServers: '',
  leaseSeconds: 3600,
  nextServer: '',
  unknownClientPolicy: 'ignore',
  enabled: true,
};

/** The request body of a range form: every field sent (blank → null), so the API checks the whole range. */
export function rangeBody(f: RangeForm) {
  return {
    name: f.name.trim(),
    cidr: f.cidr.trim(),
    interface: blankToNull(f.interface),
    dhcpMode: f.dhcpMode,
    gateway: blankToNull(f.gateway),
    poolStart: blankToNull(f.poolStart),
    poolEnd: blankToNull(f.poolEnd),
    dnsServers: splitList(f.dnsServers),
    // A non-number goes as typed: the API names the field (no check of our own in front of it).
    leaseSeconds: typeof f.leaseSeconds === 'number' ? f.leaseSeconds : Number(f.leaseSeconds),
    nextServer: blankToNull(f.nextServer),
    unknownClientPolicy: f.unknownClientPolicy,
    enabled: f.enabled,
  };
}

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];
const DAY_LABEL: Record<Weekday, string> = { mon: 'Mon', tue: 'Tue', wed: 'Wed', thu: 'Thu', fri: 'Fri', sat: 'Sat', sun: 'Sun' };
export const dayLabel = (d: Weekday) => DAY_LABEL[d];

/** Days in week order, runs of 3+ shortened: ['mon','tue','wed','thu','fri'] → "Mon–Fri". */
export function describeDays(days: readonly string[]): string {
  const set = new Set(days);
  const idx = WEEKDAYS.map((d, i) => (set.has(d) ? i : -1)).filter((i) => i >= 0);
  if (idx.length === 7) return 'Every day';
  const parts: string[] = [];
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1] === idx[j] + 1) j++;
    const from = DAY_LABEL[WEEKDAYS[idx[i]]];
    const to = DAY_LABEL[WEEKDAYS[idx[j]]];
    if (j - i >= 2) parts.push(`${from}–${to}`);
    else for (let k = i; k <= j; k++) parts.push(DAY_LABEL[WEEKDAYS[idx[k]]]);
    i = j + 1;
  }
  return parts.join(', ');
}

/** How a schedule reads in the table: "Mon–Fri 07:45" or "cron 45 7 * * 1-5". */
export function describeWhen(s: { days?: readonly string[] | null; time?: string | null; cron: string }): string {
  if (s.days && s.days.length && s.time) return `${describeDays(s.days)} ${s.time}`;
  return `cron ${s.cron}`;
}

/** The schedule form as typed. */
export interface ScheduleForm {
  groupId: string;
  kind: 'days' | 'cron';
  days: string[];
  time: string;
  cron: string;
  timezone: string;
  enabled: boolean;
}

/** The request body: days+time or cron, never both (the API refuses both with SCHEDULE_INVALID). */
export function scheduleBody(f: ScheduleForm) {
  const base = { groupId: f.groupId, timezone: f.timezone.trim(), enabled: f.enabled };
  return f.kind === 'days' ? { ...base, days: WEEKDAYS.filter((d) => f.days.includes(d)), time: f.time.trim() } : { ...base, cron: f.cron.trim() };
}
