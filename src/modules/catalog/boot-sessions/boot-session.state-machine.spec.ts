import { DomainError } from '@common/errors/domain-error';
import { SESSION_STATUSES, SessionStatus } from './boot-session.entity';
import { assertTransition, canTransition, FINAL_STATUSES, INITIAL_STATUS, isFinal, OPEN_STATUSES, TRANSITIONS } from './boot-session.state-machine';

const LEGAL: [SessionStatus, SessionStatus][] = [
  ['starting', 'booting'],
  ['booting', 'running'],
  ['running', 'shutdown'],
  ['starting', 'error'],
  ['booting', 'error'],
  ['running', 'error'],
];

describe('boot session state machine', () => {
  it('has an entry for every status and only known targets', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...SESSION_STATUSES].sort());
    for (const targets of Object.values(TRANSITIONS)) for (const t of targets) expect(SESSION_STATUSES).toContain(t);
  });

  it('reaches every state from the initial one', () => {
    const seen = new Set<SessionStatus>([INITIAL_STATUS]);
    const queue: SessionStatus[] = [INITIAL_STATUS];
    while (queue.length) {
      for (const next of TRANSITIONS[queue.shift()!]) {
        if (!seen.has(next)) {
          seen.add(next);
          queue.push(next);
        }
      }
    }
    expect([...seen].sort()).toEqual([...SESSION_STATUSES].sort());
  });

  it('allows exactly the legal pairs', () => {
    for (const from of SESSION_STATUSES) {
      for (const to of SESSION_STATUSES) {
        const legal = LEGAL.some(([f, t]) => f === from && t === to);
        expect([from, to, canTransition(from, to)]).toEqual([from, to, legal]);
        if (legal) expect(() => assertTransition(from, to)).not.toThrow();
      }
    }
  });

  it('rejects every illegal pair with ILLEGAL_TRANSITION naming from and to', () => {
    let rejected = 0;
    for (const from of SESSION_STATUSES) {
      for (const to of SESSION_STATUSES) {
        if (LEGAL.some(([f, t]) => f === from && t === to)) continue;
        let err: unknown;
        try {
          assertTransition(from, to);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(DomainError);
        const d = err as DomainError;
        expect(d.kind).toBe('conflict');
        expect(d.code).toBe('ILLEGAL_TRANSITION');
        expect(d.message).toContain(`from ${from} to ${to}`);
        expect(d.details).toEqual({ from, to });
        rejected++;
      }
    }
    expect(rejected).toBe(SESSION_STATUSES.length ** 2 - LEGAL.length);
  });

  it('classifies final and open states', () => {
    expect([...FINAL_STATUSES].sort()).toEqual(['error', 'shutdown']);
    expect([...OPEN_STATUSES].sort()).toEqual(['booting', 'running', 'starting']);
    expect(isFinal('shutdown')).toBe(true);
    expect(isFinal('running')).toBe(false);
  });

  it('rejects unknown states', () => {
    expect(canTransition('bogus' as SessionStatus, 'running')).toBe(false);
    expect(() => assertTransition('bogus' as SessionStatus, 'running')).toThrow(/illegal/);
  });
});
