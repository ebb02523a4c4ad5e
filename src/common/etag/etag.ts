import { PreconditionFailedError, ValidationError } from '../errors/domain-error';

/**
 * Optimistic concurrency for editable records (RFC 9110 §8.8.3, §13.1.1). A record's ETag is its row version
 * (`@VersionColumn`, moved on by every write TypeORM makes): `"<version>"`, a strong validator. A conditional edit
 * sends it back in `If-Match`; the service compares it with the version of the row it has locked for the write
 * ({@link checkVersion}), so no other write can come between the check and the update.
 */
export function etagOf(version: number): string {
  return `"${version}"`;
}

/** The header a {@link VersionPrecondition} comes from; named in 400 and 412 answers. */
export const IF_MATCH = 'If-Match';

/**
 * What a conditional write expects of the record's current version, parsed from `If-Match`: `*` (any current version:
 * the record exists) or a list of entity tags, compared strongly (a weak tag `W/"3"` never matches).
 */
export class VersionPrecondition {
  private constructor(
    private readonly any: boolean,
    private readonly strongTags: readonly string[],
    /** The header value as sent (for messages). */
    readonly raw: string,
  ) {}

  /**
   * `undefined` when the header is absent (an unconditional write); INVALID_IF_MATCH (400) when it is neither `*` nor
   * a comma-separated list of entity tags (`"3"`, `W/"3"`).
   */
  static parse(header: string | string[] | undefined): VersionPrecondition | undefined {
    if (header === undefined) return undefined;
    const raw = (Array.isArray(header) ? header.join(', ') : header).trim();
    if (raw === '*') return new VersionPrecondition(true, [], raw);
    const tags = parseEntityTags(raw);
    if (!tags) {
      throw new ValidationError('INVALID_IF_MATCH', `${IF_MATCH} must be "*" or a list of entity tags such as "3" (with the quotes)`, {
        header: IF_MATCH,
      });
    }
    return new VersionPrecondition(
      false,
      tags.filter((t) => !t.weak).map((t) => t.opaque),
      raw,
    );
  }

  /** True when a record at `version` satisfies the condition. */
  matches(version: number): boolean {
    return this.any || this.strongTags.includes(etagOf(version));
  }
}

/**
 * Throws PRECONDITION_FAILED (412, naming `If-Match`) unless `expected` is absent or matches `version`. Call it with
 * the version of the row the write has locked (or in the write's own WHERE), never with one read before.
 */
export function checkVersion(expected: VersionPrecondition | undefined, version: number, what: string): void {
  if (!expected || expected.matches(version)) return;
  throw new PreconditionFailedError(
    `${IF_MATCH}: ${expected.raw.slice(0, 100)} does not match the current version of ${what}: it changed since it was read; GET it again and redo the change`,
    { precondition: IF_MATCH },
  );
}

/** `1#entity-tag` (RFC 9110 §5.6.1 list, §8.8.3 entity-tag): null when malformed or empty. */
function parseEntityTags(s: string): { weak: boolean; opaque: string }[] | null {
  const out: { weak: boolean; opaque: string }[] = [];
  let i = 0;
  const skipOws = () => {
    while (s[i] === ' ' || s[i] === '\t') i++;
  };
  for (;;) {
    skipOws();
    if (s[i] === ',') {
      i++; // empty list element: allowed, not counted
      continue;
    }
    if (i >= s.length) break;
    let weak = false;
    if (s.startsWith('W/', i)) {
      weak = true;
      i += 2;
    }
    if (s[i] !== '"') return null;
    const start = i++;
    // etagc = %x21 / %x23-7E / obs-text
    while (i < s.length && s[i] !== '"') {
      const c = s.charCodeAt(i);
      if (c < 0x21 || c === 0x7f || c > 0xff) return null;
      i++;
    }
    if (s[i] !== '"') return null;
    i++;
    out.push({ weak, opaque: s.slice(start, i) });
    skipOws();
    if (i < s.length && s[i] !== ',') return null;
  }
  return out.length ? out : null;
}
