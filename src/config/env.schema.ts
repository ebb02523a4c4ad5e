/**
 * The environment DLS understands, as data: one entry per variable with its parser.
 * `loadConfig()` in `config.loader.ts` validates all of them at once and reports every bad key.
 */
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

/** Duration: `30`, `30s`, `15m`, `12h`, `7d` (seconds). */
export const seconds: EnvParser<number> = (raw) => {
  const m = /^(\d+)\s*([smhd]?)$/.exec(raw.trim());
  if (!m) throw new EnvValueError('must be a duration like 900, 15m, 12h or 7d');
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
};
