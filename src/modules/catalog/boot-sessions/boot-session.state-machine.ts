import { ConflictError } from '@common/errors/domain-error';
import { SESSION_STATUSES, SessionStatus } from './boot-session.entity';
import { BootSessionErrorCode } from './boot-sessions.errors';

/**
 * The boot-session lifecycle as data: each state and the states it may move to.
 *
 *   starting → booting → running → shutdown
 *   starting | booting | running → error
 *
 * `shutdown` and `error` are final (no exits). Pure: no Nest, no database.
 */
export const TRANSITIONS: Readonly<Record<SessionStatus, readonly SessionStatus[]>> = {
  starting: ['booting', 'error'],
  booting: ['running', 'error'],
  running: ['shutdown', 'error'],
  shutdown: [],
  error: [],
};

/** The state every session starts in. */
export const INITIAL_STATUS: SessionStatus = 'starting';

/** States with no exits. */
export const FINAL_STATUSES: readonly SessionStatus[] = SESSION_STATUSES.filter((s) => TRANSITIONS[s].length === 0);

/** States of an open (non-final) session; a client has at most one open session. */
export const OPEN_STATUSES: readonly SessionStatus[] = SESSION_STATUSES.filter((s) => TRANSITIONS[s].length > 0);

export function isFinal(status: SessionStatus): boolean {
  return TRANSITIONS[status].length === 0;
}

export function canTransition(from: SessionStatus, to: SessionStatus): boolean {
  return TRANSITIONS[from]?.includes(to) ?? false;
}

/** Throws ILLEGAL_TRANSITION (409) naming both states unless `from → to` is in the table. */
export function assertTransition(from: SessionStatus, to: SessionStatus): void {
  if (!canTransition(from, to)) {
    const allowed = TRANSITIONS[from]?.length ? TRANSITIONS[from].join(', ') : 'none (final state)';
    throw new ConflictError(
      BootSessionErrorCode.ILLEGAL_TRANSITION,
      `illegal boot session transition from ${from} to ${to} (allowed from ${from}: ${allowed})`,
      { from, to },
    );
  }
}
