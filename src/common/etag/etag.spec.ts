import { DomainError } from '../errors/domain-error';
import { checkVersion, etagOf, VersionPrecondition } from './etag';

describe('etag', () => {
  it('an ETag is the version, quoted (a strong validator)', () => {
    expect(etagOf(1)).toBe('"1"');
    expect(etagOf(42)).toBe('"42"');
  });

  it('no If-Match: no precondition', () => {
    expect(VersionPrecondition.parse(undefined)).toBeUndefined();
  });

  it.each([
    ['"3"', [3], [2, 4]],
    ['*', [1, 2, 99], []],
    [' * ', [1], []],
    ['"2", "3"', [2, 3], [1]],
    ['"2",,"3" ,', [2, 3], [1]],
    ['W/"3"', [], [3]], // weak tags never match (strong comparison, RFC 9110 §13.1.1)
    ['W/"3", "4"', [4], [3]],
    ['"abc"', [], [1]], // a valid tag that is not one of ours
    ['"a,b", "5"', [5], []], // a comma inside a tag is part of it
  ])('If-Match %s matches versions %j and not %j', (header, yes, no) => {
    const p = VersionPrecondition.parse(header)!;
    for (const v of yes) expect(p.matches(v)).toBe(true);
    for (const v of no) expect(p.matches(v)).toBe(false);
  });

  it('joins repeated If-Match headers into one list', () => {
    expect(VersionPrecondition.parse(['"1"', '"2"'])!.matches(2)).toBe(true);
  });

  it.each(['', ' ', ',', '3', 'W/3', '"3', '3"', '"3" "4"', '"3";', 'W/ "3"', '"tab\there"', '"\u0100"', '**', '*, "3"'])(
    'If-Match %j is malformed: 400 INVALID_IF_MATCH naming the header',
    (header) => {
      expect(() => VersionPrecondition.parse(header)).toThrow(
        expect.objectContaining({ kind: 'validation', code: 'INVALID_IF_MATCH', details: { header: 'If-Match' } }),
      );
    },
  );

  it('checkVersion passes without a precondition or on a match, and throws PRECONDITION_FAILED (412) naming If-Match otherwise', () => {
    expect(() => checkVersion(undefined, 7, 'client x')).not.toThrow();
    expect(() => checkVersion(VersionPrecondition.parse('"7"'), 7, 'client x')).not.toThrow();
    let err: unknown;
    try {
      checkVersion(VersionPrecondition.parse('"6"'), 7, 'client x');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ kind: 'precondition_failed', code: 'PRECONDITION_FAILED', details: { precondition: 'If-Match' } });
    expect((err as Error).message).toMatch(/^If-Match: "6" does not match the current version of client x/);
  });
});
