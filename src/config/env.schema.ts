/**
 * The environment DLS understands, as data: one entry per variable with its parser.
 * `loadConfig()` in `config.loader.ts` validates all of them at once and reports every bad key.
 */
import { isIP } from 'node:net';

export type EnvParser<T> = (raw: string) => T;

export interface EnvVar<T> {
  /** Default when the variable is unset or empty; `undefined` means "optional, no default". */
  default?: T;
  parse: EnvParser<T>;
  secret?: boolean;
  description: string;
}

export class EnvValueError extends Error {}

export const str =
  (opts: { pattern?: RegExp; min?: number; max?: number } = {}): EnvParser<string> =>
  (raw) => {
    if (opts.min !== undefined && raw.length < opts.min) throw new EnvValueError(`must be at least ${opts.min} characters`);
    if (opts.max !== undefined && raw.length > opts.max) throw new EnvValueError(`must be at most ${opts.max} characters`);
    if (opts.pattern && !opts.pattern.test(raw)) throw new EnvValueError(`must match ${opts.pattern}`);
    return raw;
  };

export const int =
  (min: number, max: number): EnvParser<number> =>
  (raw) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new EnvValueError('must be an integer');
    const n = Number(raw.trim());
    if (n < min || n > max) throw new EnvValueError(`must be between ${min} and ${max}`);
    return n;
  };

export const bool: EnvParser<boolean> = (raw) => {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new EnvValueError('must be true or false');
};

export const oneOf =
  <T extends string>(...values: T[]): EnvParser<T> =>
  (raw) => {
    if (!(values as string[]).includes(raw)) throw new EnvValueError(`must be one of ${values.join(', ')}`);
    return raw as T;
  };

export const url =
  (...protocols: string[]): EnvParser<string> =>
  (raw) => {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new EnvValueError('must be a URL');
    }
    if (protocols.length && !protocols.includes(u.protocol.replace(/:$/, ''))) {
      throw new EnvValueError(`must use ${protocols.join(' or ')}`);
    }
    return raw;
  };

export const ipv4: EnvParser<string> = (raw) => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(raw);
  if (!m || m.slice(1).some((p) => Number(p) > 255)) throw new EnvValueError('must be an IPv4 address');
  return raw;
};

/** Size with an optional unit: `512`, `10G`, `500MiB`. */
export const bytes: EnvParser<number> = (raw) => {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(raw.trim());
  if (!m) throw new EnvValueError('must be a size like 1073741824, 512M or 10G');
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * mult);
};

/** Duration: `30`, `30s`, `15m`, `12h`, `7d` (seconds). Bound it with {@link within}. */
export const seconds: EnvParser<number> = (raw) => {
  const m = /^(\d+)\s*([smhd]?)$/.exec(raw.trim());
  if (!m) throw new EnvValueError('must be a duration like 900, 15m, 12h or 7d');
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
};

/** Narrows a numeric parser to what the value's consumer accepts, e.g. `within(seconds, 1, 365 * 86400, 's')`. */
export const within =
  (parse: EnvParser<number>, min: number, max: number, unit = ''): EnvParser<number> =>
  (raw) => {
    const n = parse(raw);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new EnvValueError(`must be between ${min}${unit} and ${max}${unit}`);
    return n;
  };

/** A bind address: an IPv4 or IPv6 literal, or a host name (RFC 1123 labels). */
export const host: EnvParser<string> = (raw) => {
  if (isIP(raw) !== 0) return raw;
  const label = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
  if (raw.length <= 253 && new RegExp(`^${label}(\\.${label})*$`).test(raw)) return raw;
  throw new EnvValueError('must be an IP address or a host name');
};

/** Adds a check that the consumer itself makes (an adapter's allow-list), reported as this variable's problem. */
export const checked =
  <T>(parse: EnvParser<T>, check: (value: T) => string | undefined): EnvParser<T> =>
  (raw) => {
    const value = parse(raw);
    const problem = check(value);
    if (problem) throw new EnvValueError(problem);
    return value;
  };
