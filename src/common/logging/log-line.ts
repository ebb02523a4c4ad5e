/** Structured fields of a log line (MAC, xid, client id, session id…): plain JSON values. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** A log message with fields: `{ msg, ...fields }`. */
export type LogLine = { msg: string } & LogFields;

/**
 * A log line whose fields become JSON keys beside `msg` under nestjs-pino (`logger.log(line(...))`); a logger that
 * stringifies it (a test's console logger) still gets the message text, through a non-enumerable `toString`.
 */
export function logLine(msg: string, fields: LogFields): LogLine {
  const out: LogLine = { msg };
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== null) out[k] = v;
  Object.defineProperty(out, 'toString', { value: () => msg, enumerable: false });
  return out;
}
