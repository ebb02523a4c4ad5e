/**
 * CSV → CreateClientDto rows for `POST /api/v1/clients/bulk`, and the API's per-row errors back to CSV lines
 * (pure; unit-tested in csv-import.spec.ts).
 *
 * The header row names the columns: `macAddress` and `hostname` are required; the optional ones are the
 * CreateClientDto fields (ipAddress, groupId, assignedImageId, bootMode, diskPolicy, enabled, cpuCores, memoryMb,
 * customBootParams, bootLoader) plus `group` and `image` by name. An empty cell leaves the field out (the API's
 * default). Values are passed as typed: the API validates them (MAC notation, IP, enums), and its messages are shown
 * against the line they came from.
 */
import Papa from 'papaparse';
import type { Schemas } from '../../api/client';

export type CreateClient = Schemas['CreateClientDto'];
export const BULK_MAX = 1000;

export interface CsvRow {
  /** 1-based line of the file where this record starts (the header is line 1) */
  line: number;
  /** the cells by (canonical) column */
  cells: Record<string, string>;
  /** what is sent; absent when a local problem stops the row */
  dto?: Partial<CreateClient>;
  /** problems found here (unknown group name, not a number, …) */
  problems: string[];
}

export interface ParsedCsv {
  columns: string[];
  rows: CsvRow[];
  /** a problem with the whole file (no header, missing required column, unknown column) */
  fatal?: string;
}

export interface Lookups {
  /** group name (any case) → id */
  groups: ReadonlyMap<string, string>;
  /** image name (any case) → id */
  images: ReadonlyMap<string, string>;
}

type Kind = 'text' | 'bool' | 'int';
/** Columns understood, with their canonical name and how cells are read. */
const COLUMNS: Record<string, { name: string; kind: Kind }> = {};
for (const [name, kind] of [
  ['macAddress', 'text'],
  ['hostname', 'text'],
  ['ipAddress', 'text'],
  ['groupId', 'text'],
  ['group', 'text'],
  ['assignedImageId', 'text'],
  ['image', 'text'],
  ['bootMode', 'text'],
  ['diskPolicy', 'text'],
  ['enabled', 'bool'],
  ['cpuCores', 'int'],
  ['memoryMb', 'int'],
  ['customBootParams', 'text'],
  ['bootLoader', 'text'],
] as const) {
  COLUMNS[name.toLowerCase()] = { name, kind };
}
const ALIASES: Record<string, string> = { mac: 'macAddress', ip: 'ipAddress', groupname: 'group', imagename: 'image' };
export const REQUIRED = ['macAddress', 'hostname'];

/** A header cell to its canonical column name ("MAC address", "mac_address", "macAddress" → macAddress). */
export function canonicalColumn(header: string): string | undefined {
  const k = header
    .trim()
    .toLowerCase()
    .replace(/[\s_-]+/g, '');
  const alias = ALIASES[k];
  if (alias) return alias;
  return COLUMNS[k]?.name;
}

export function parseBool(v: string): boolean | undefined {
  const s = v.trim().toLowerCase();
  if (['true', 'yes', 'y', '1', 'on', 'enabled'].includes(s)) return true;
  if (['false', 'no', 'n', '0', 'off', 'disabled'].includes(s)) return false;
  return undefined;
}

/** Parses CSV text (a header row, then one client per record) into rows to preview and send. */
export function parseClientsCsv(text: string, lookups: Lookups): ParsedCsv {
  const records: { cells: string[]; line: number }[] = [];
  const src = text.replace(/^\uFEFF/, '');
  let consumed = 0;
  let line = 1;
  Papa.parse<string[]>(src, {
    header: false,
    skipEmptyLines: false,
    step: (res) => {
      const end = res.meta.cursor;
      records.push({ cells: res.data, line });
      // the cursor is past this record's line break: the next record starts after every newline up to there
      // (those inside quoted cells too)
      line += countNewlines(src, consumed, end);
      consumed = end;
    },
  });
  const nonEmpty = records.filter((r) => r.cells.some((c) => c.trim() !== ''));
  if (nonEmpty.length === 0) return { columns: [], rows: [], fatal: 'The CSV is empty: it needs a header row (macAddress,hostname,…).' };
  const [head, ...body] = nonEmpty;
  const columns: string[] = [];
  const unknown: string[] = [];
  for (const h of head.cells) {
    const c = canonicalColumn(h);
    if (!c) unknown.push(h);
    columns.push(c ?? h);
  }
  const dupes = columns.filter((c, i) => columns.indexOf(c) !== i);
  const missing = REQUIRED.filter((r) => !columns.includes(r));
  const fatal = [
    missing.length ? `Line ${head.line}: the header needs the column(s) ${missing.join(', ')}` : '',
    unknown.length ? `Line ${head.line}: unknown column(s) ${unknown.map((u) => JSON.stringify(u)).join(', ')}` : '',
    dupes.length ? `Line ${head.line}: column(s) ${[...new Set(dupes)].join(', ')} appear twice` : '',
  ]
    .filter(Boolean)
    .join('. ');
  const rows = body.map((r) => toRow(r.cells, r.line, columns, lookups));
  return fatal ? { columns, rows, fatal } : { columns, rows };
}

function countNewlines(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to && i < s.length; i++) if (s.charCodeAt(i) === 10) n++;
  return n;
}

function toRow(cells: string[], line: number, columns: string[], lookups: Lookups): CsvRow {
  const byCol: Record<string, string> = {};
  columns.forEach((c, i) => (byCol[c] = (cells[i] ?? '').trim()));
  const problems: string[] = [];
  if (cells.length > columns.length && cells.slice(columns.length).some((c) => c.trim() !== '')) {
    problems.push(`has ${cells.length} cells but the header has ${columns.length}`);
  }
  const dto: Record<string, unknown> = {};
  for (const col of columns) {
    const v = byCol[col];
    const spec = COLUMNS[col.toLowerCase()];
    if (!spec) continue;
    if (v === '') {
      if (REQUIRED.includes(col)) problems.push(`${col} is empty`);
      continue;
    }
    if (col === 'group') {
      const id = lookups.groups.get(v.toLowerCase());
      if (id) dto.groupId = id;
      else problems.push(`group "${v}" does not exist`);
    } else if (col === 'image') {
      const id = lookups.images.get(v.toLowerCase());
      if (id) dto.assignedImageId = id;
      else problems.push(`image "${v}" does not exist`);
    } else if (spec.kind === 'bool') {
      const b = parseBool(v);
      if (b === undefined) problems.push(`${col} must be true or false (got "${v}")`);
      else dto[col] = b;
    } else if (spec.kind === 'int') {
      if (/^-?\d+$/.test(v)) dto[col] = Number(v);
      else problems.push(`${col} must be a whole number (got "${v}")`);
    } else {
      dto[col] = v;
    }
  }
  if ('group' in byCol && 'groupId' in byCol && byCol.group && byCol.groupId) problems.push('give group or groupId, not both');
  if ('image' in byCol && 'assignedImageId' in byCol && byCol.image && byCol.assignedImageId) {
    problems.push('give image or assignedImageId, not both');
  }
  return problems.length ? { line, cells: byCol, problems } : { line, cells: byCol, dto: dto, problems };
}

/** Rows in batches the bulk endpoint accepts (each all or nothing). */
export function batches<T>(rows: readonly T[], size = BULK_MAX): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

export interface BulkRowError {
  index: number;
  field: string;
  message: string;
}

/** `details.rows` of a BULK_VALIDATION_FAILED body, tolerant of a missing or odd shape. */
export function bulkRowErrors(details: Record<string, unknown> | undefined): BulkRowError[] {
  const rows = details?.rows;
  if (!Array.isArray(rows)) return [];
  return rows.filter(
    (r): r is BulkRowError =>
      !!r && typeof r === 'object' && typeof (r as BulkRowError).index === 'number' && typeof (r as BulkRowError).message === 'string',
  );
}

/**
 * The API's per-row errors of one batch as messages per CSV line: `index` is the position in the batch that was
 * sent, `sent[index]` the CSV row it came from.
 */
export function errorsByLine(errors: readonly BulkRowError[], sent: readonly Pick<CsvRow, 'line'>[]): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const e of errors) {
    const row = sent[e.index];
    if (!row) continue;
    const list = out.get(row.line) ?? [];
    const msg = rewriteRowReferences(e.message, sent);
    const named = !e.field || msg.toLowerCase().replace(/\s/g, '').includes(e.field.toLowerCase());
    list.push(named ? msg : `${e.field}: ${msg}`);
    out.set(row.line, list);
  }
  return out;
}

/** The API names rows by batch index ("also appears in row 3"): say the CSV line instead. */
export function rewriteRowReferences(message: string, sent: readonly Pick<CsvRow, 'line'>[]): string {
  return message.replace(/\brow (\d+)\b/g, (m, i: string) => (sent[Number(i)] ? `line ${sent[Number(i)].line}` : m));
}
