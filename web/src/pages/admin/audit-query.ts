/** The Audit page's filters → the query of GET /api/v1/audit (pure; see audit-query.spec.ts). */

export const AUDIT_PAGE_SIZE = 50;

export type StatusClass = 'all' | '2xx' | '3xx' | '4xx' | '5xx' | 'errors';

export interface AuditFilters {
  action: string;
  entityType: string;
  userId: string | null;
  status: StatusClass;
  q: string;
  /** `datetime-local` input values (local time, "2026-12-05T14:30"), or '' */
  from: string;
  to: string;
  /** `-at` (newest first) by default */
  sort: string;
  page: number;
}

export const EMPTY_FILTERS: AuditFilters = { action: '', entityType: '', userId: null, status: 'all', q: '', from: '', to: '', sort: '-at', page: 1 };

export interface AuditQuery {
  limit: number;
  offset: number;
  action?: string;
  entityType?: string;
  userId?: string;
  statusMin?: number;
  statusMax?: number;
  q?: string;
  from?: string;
  to?: string;
  sort?: string;
}

const STATUS_RANGES: Record<Exclude<StatusClass, 'all'>, [number, number]> = {
  '2xx': [200, 299],
  '3xx': [300, 399],
  '4xx': [400, 499],
  '5xx': [500, 599],
  errors: [400, 599],
};

/** A `datetime-local` value as an ISO instant (the browser's zone), or undefined when empty or invalid. */
export function localToIso(v: string): string | undefined {
  if (!v) return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

export function auditQuery(f: AuditFilters, pageSize = AUDIT_PAGE_SIZE): AuditQuery {
  const q: AuditQuery = { limit: pageSize, offset: (Math.max(1, f.page) - 1) * pageSize };
  const action = f.action.trim();
  const entityType = f.entityType.trim();
  const text = f.q.trim();
  if (action) q.action = action;
  if (entityType) q.entityType = entityType;
  if (f.userId) q.userId = f.userId;
  if (f.status !== 'all') [q.statusMin, q.statusMax] = STATUS_RANGES[f.status];
  if (text) q.q = text;
  const from = localToIso(f.from);
  const to = localToIso(f.to);
  if (from) q.from = from;
  if (to) q.to = to;
  if (f.sort && f.sort !== '-at') q.sort = f.sort;
  return q;
}

/** Clicking a column header: newest/largest first on the first click, then toggles. */
export function nextSort(current: string, field: string): string {
  if (current === `-${field}`) return field;
  return `-${field}`;
}

/** Mantine badge colour of an HTTP status (shades readable on white). */
export function statusColor(code: number | null): string {
  if (code == null) return 'gray';
  if (code >= 500) return 'red';
  if (code >= 400) return 'orange';
  if (code >= 300) return 'blue';
  return 'teal';
}
