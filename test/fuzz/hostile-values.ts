import fc from 'fast-check';

/**
 * Hostile values for the API fuzz suite (test/e2e/api-fuzz.e2e-spec.ts): fast-check arbitraries for what a careless
 * or malicious client sends — wrong types, empty and huge strings, NUL and other control characters, lone surrogates,
 * RTL and emoji, numbers at and past every bound, deep nesting and prototype-pollution keys.
 */

/** JSON text emitted verbatim by {@link toJson} (numbers JSON.stringify can't write: `1e999`, `-0`, 30-digit integers). */
export class RawJson {
  constructor(readonly text: string) {}
}

/** A query or path value emitted verbatim, without percent-encoding (malformed escapes, invalid UTF-8 bytes). */
export class RawUrl {
  constructor(readonly text: string) {}
}

/**
 * JSON.stringify that keeps own `__proto__` keys, writes {@link RawJson} verbatim and never throws (lone surrogates
 * become `\udXXX` escapes, as JSON.stringify writes them).
 */
export function toJson(v: unknown): string {
  if (v instanceof RawJson) return v.text;
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : toJson(x))).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const parts: string[] = [];
    for (const k of Object.keys(v)) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) parts.push(`${JSON.stringify(k)}:${toJson(x)}`);
    }
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** An object with an own (enumerable, JSON-visible) property even when the key is `__proto__`. */
export function withKey(o: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const k of Object.keys(o)) Object.defineProperty(copy, k, { value: o[k], enumerable: true, writable: true, configurable: true });
  Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

/** C0 controls, DEL, C1 NEL and the Unicode line/paragraph separators. */
export const CONTROL_CHARS = [
  '\u0000',
  '\u0001',
  '\u0007',
  '\b',
  '\t',
  '\n',
  '\v',
  '\f',
  '\r',
  '\u001b',
  '\u001f',
  '\u007f',
  '\u0085',
  '\u2028',
  '\u2029',
];

/** Strings that have broken parsers, databases, shells and renderers before. */
export const NASTY_STRINGS: string[] = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\u0000\u0000\u0000',
  '\ud800', // lone high surrogate
  '\udfff', // lone low surrogate
  'x\ud83d',
  '\udc00\ud800',
  '\u202egnp.exe', // right-to-left override
  'مرحبا بالعالم',
  'שלום',
  '👨‍👩‍👧‍👦🏳️‍🌈',
  '𝕏𝕐ℤ',
  '\ufeffbom',
  '\ufffe\uffff',
  'Ⓐ',
  'ǅ',
  'ﷺ',
  'e\u0301\u0301\u0301\u0301',
  '../../../../etc/passwd',
  '/dev/null',
  'C:\\Windows\\system32',
  '%00',
  '%',
  '%%',
  "'; DROP TABLE users; --",
  '" OR 1=1 --',
  '$(reboot)',
  '`id`',
  '${jndi:ldap://127.0.0.1/x}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'toString',
  'null',
  'undefined',
  'true',
  'NaN',
  'Infinity',
  '-1',
  '0',
  '1e309',
  '0x10',
  ' 1',
  '1 ',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '2026-02-30T25:61:61Z',
  '-271821-04-20T00:00:00Z',
  '9999999999999999999999',
  '255.255.255.255',
  '0.0.0.0/0',
  '::1',
  'ff:ff:ff:ff:ff:ff',
  '00:00:00:00:00:00',
];

/** Numbers that sit on or just past the usual integer and float limits. */
const GENERIC_NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.5,
  -0.5,
  1e-300,
  2 ** 15,
  2 ** 16,
  2 ** 31 - 1,
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53 + 2,
  2 ** 63,
  2 ** 64,
  -(2 ** 63),
  1e308,
  -1e308,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
];

/** Numbers only raw JSON can carry. */
const RAW_NUMBERS = ['1e999', '-1e999', '-0', '123456789012345678901234567890', '0.00000000000000000000000000001', '1E+2', '1.0'];

/** Minimal description of a JSON schema (what the generators read). */
export interface SchemaLike {
  type?: string;
  format?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  items?: SchemaLike;
  properties?: Record<string, SchemaLike>;
  required?: string[];
  nullable?: boolean;
  example?: unknown;
  default?: unknown;
}

const controlString = fc
  .array(fc.oneof(fc.constantFrom(...CONTROL_CHARS), fc.string({ maxLength: 4 })), { minLength: 1, maxLength: 8 })
  .map((a) => a.join(''));
const loneSurrogates = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
      fc.constantFrom('a', '€'),
    ),
    {
      minLength: 1,
      maxLength: 6,
    },
  )
  .map((a) => a.join(''));

/** A hostile string: nasty constants, control characters, lone surrogates, arbitrary UTF-16, or a long run. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 2, arbitrary: controlString },
  { weight: 1, arbitrary: loneSurrogates },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom(256, 1025, 65_537).chain((n) => fc.constantFrom('a', 'é', '😀', '\u0000').map((c) => c.repeat(n))) },
);

/** A hostile number, including values JSON.stringify cannot write (carried as {@link RawJson}). */
export const hostileNumber: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...GENERIC_NUMBERS) },
  { weight: 1, arbitrary: fc.constantFrom(...RAW_NUMBERS).map((t) => new RawJson(t)) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.integer() },
);

/** Nested arrays/objects `depth` levels deep, as JSON text (deeper than a recursive serializer's stack). */
function nested(depth: number, leaf: unknown, asArray: boolean): RawJson {
  const [open, close] = asArray ? ['[', ']'] : ['{"a":', '}'];
  return new RawJson(open.repeat(depth) + toJson(leaf) + close.repeat(depth));
}

/** Objects whose keys aim at prototypes or operators. */
export const pollutionObject: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(
    fc.constantFrom('__proto__', 'constructor', 'prototype', '$where', '$ne', 'toString', 'hasOwnProperty'),
    fc.constantFrom<unknown>({ isAdmin: true, role: 'admin', polluted: 1 }, { prototype: { polluted: 1 } }, null, 'x', 1),
  )
  .map(([k, v]) => withKey({}, k, v));

/** A value of any hostile shape: wrong JSON types, huge or deeply nested containers, pollution keys. */
export const hostileAny: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: hostileString },
  { weight: 2, arbitrary: hostileNumber },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(null, true, false, [], {}, [null], [''], [[]], { '': '' }) },
  { weight: 2, arbitrary: pollutionObject },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(10, 100, 5000), fc.boolean(), fc.constantFrom<unknown>(null, 'x', 1, {}))
      .map(([d, arr, leaf]) => nested(d, leaf, arr)),
  },
  { weight: 1, arbitrary: fc.constantFrom(1001, 20_000).map((n) => new Array<number>(n).fill(1)) },
  { weight: 2, arbitrary: fc.anything({ maxDepth: 3, maxKeys: 5, withNullPrototype: true, withObjectString: true }) },
  { weight: 1, arbitrary: fc.array(hostileString, { maxLength: 5 }) },
);

/** A character that breaks storage or parsing when inserted into otherwise valid text: NUL most of all. */
const poisonChar: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constant('\u0000') },
  { weight: 2, arbitrary: fc.constantFrom(...CONTROL_CHARS, '\ud800', '\udc00', '\u202e', '\ufeff', '😀') },
);

/** Inserts one poison character into a string at a random position (start and end included). */
export const poison: fc.Arbitrary<(s: string) => string> = fc.tuple(poisonChar, fc.nat()).map(
  ([c, at]) =>
    (s: string) =>
      s.slice(0, at % (s.length + 1)) + c + s.slice(at % (s.length + 1)),
);

/** Hostile values aimed at one schema: its bounds, its length limit, its enum and its type. */
export function hostileFor(s: SchemaLike): fc.Arbitrary<unknown> {
  const aimed: fc.Arbitrary<unknown>[] = [];
  if (s.type === 'number' || s.type === 'integer') {
    const bounds: number[] = [];
    for (const b of [s.minimum, s.maximum]) if (b !== undefined) bounds.push(b, b - 1, b + 1, b - 0.5, b + 0.5, b * 2, -b);
    if (bounds.length) aimed.push(fc.constantFrom(...bounds));
    aimed.push(fc.constantFrom<unknown>('1', '', '1e3', '0x10', true, [1], { value: 1 }));
    aimed.push(hostileNumber);
  }
  if (s.type === 'string' || s.type === 'object' || s.type === undefined) {
    if (s.maxLength !== undefined) aimed.push(fc.constantFrom(s.maxLength, s.maxLength + 1, s.maxLength * 4).map((n) => 'a'.repeat(n)));
    if (s.maxLength !== undefined) aimed.push(fc.constantFrom(s.maxLength, s.maxLength + 1).map((n) => '😀'.repeat(Math.ceil(n / 2))));
    if (s.minLength !== undefined) aimed.push(fc.constantFrom(Math.max(0, s.minLength - 1), s.minLength).map((n) => 'a'.repeat(n)));
    if (typeof s.example === 'string') {
      const ex = s.example;
      aimed.push(
        fc.tuple(fc.constantFrom(...CONTROL_CHARS, '\ud800', '\u202e', '😀'), fc.nat(ex.length)).map(([c, at]) => ex.slice(0, at) + c + ex.slice(at)),
      );
      aimed.push(fc.constantFrom(ex.toUpperCase(), ` ${ex} `, ex.repeat(50), `${ex}\u0000`));
    }
    if (s.enum) aimed.push(fc.constantFrom(...s.enum.map((e) => String(e).toUpperCase()), '', `${String(s.enum[0])}\u0000`));
    if (s.format === 'uuid') aimed.push(fc.oneof(fc.uuid(), fc.constantFrom('not-a-uuid', '00000000-0000-0000-0000-000000000000', '{uuid}')));
    if (s.format === 'date-time')
      aimed.push(fc.constantFrom('2026-13-01', 'yesterday', '0', '1e20', '275760-09-13T00:00:00.001Z', '1970-01-01T00:00:00+99:00'));
    aimed.push(hostileString);
  }
  if (s.type === 'boolean') aimed.push(fc.constantFrom<unknown>('true', 'false', 0, 1, 'yes', '', null));
  if (s.type === 'array') {
    const item = s.items ?? {};
    if (s.maxItems !== undefined) aimed.push(fc.constantFrom(s.maxItems, s.maxItems + 1).map((n) => new Array<unknown>(n).fill(item.example ?? 'x')));
    aimed.push(fc.array(hostileFor(item), { maxLength: 4 }));
    aimed.push(fc.constantFrom<unknown>('x', {}, [[]], [null]));
  }
  if (s.type === 'object' && s.properties) aimed.push(fc.constantFrom<unknown>([], 'x', 1));
  return fc.oneof({ weight: 3, arbitrary: aimed.length ? fc.oneof(...aimed) : hostileAny }, { weight: 1, arbitrary: hostileAny });
}

/** Hostile text for a query string or path segment: either a string (percent-encoded when sent) or a raw escape. */
export function hostileUrlValue(s: SchemaLike): fc.Arbitrary<string | RawUrl> {
  const asText = hostileFor(s).map((v): string => (v instanceof RawJson ? v.text : typeof v === 'string' ? v : (toJson(v) ?? '')));
  return fc.oneof(
    { weight: 6, arbitrary: asText },
    {
      weight: 1,
      arbitrary: fc.constantFrom('%', '%0', '%zz', '%00', '%ED%A0%80', '%C0%AE', '%FF%FE', '%2e%2e', '%2F', '+', '%20').map((t) => new RawUrl(t)),
    },
  );
}
