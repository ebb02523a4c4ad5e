/**
 * The reliable way to delete a tgt target that may have live sessions and in-flight I/O (measured on tgt 1.0.85):
 *
 * 1. `state offline`: new logins are rejected and new commands get BUSY;
 * 2. `delete --force`, retried every ~100 ms while tgtd answers `this logical unit is still active`
 *    (or `this target is still active`);
 * 3. after ~1 s of failures, also `conn delete` every session, so stuck initiators let go.
 *
 * A plain `delete --force` alone can fail while commands are queued, and the initiator reconnects at once.
 * After a successful delete tgtd has closed the backing file, so the file may be destroyed or rolled back.
 */
import type { TgtAdmAdapter } from './tgt.adapter';
import { TgtError, TgtErrorCode, isTgtError } from './tgt.errors';

/** Timing knobs for {@link forceRemoveTarget}. */
export interface ForceRemoveOptions {
  /** Give up after this long (default 5000 ms). */
  timeoutMs?: number;
  /** Pause between delete attempts (default 100 ms). */
  retryIntervalMs?: number;
  /** Start kicking sessions with `conn delete` after this long (default 1000 ms). */
  kickSessionsAfterMs?: number;
  /** Injectable for unit tests. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** Resolves after `ms` milliseconds (the timer does not keep the process alive). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

type Deleter = Pick<TgtAdmAdapter, 'setTargetState' | 'deleteTarget' | 'showConnections' | 'deleteConnection'>;

/**
 * Offline → `delete --force` with retries → `conn delete` after ~1 s. Resolves `false` when the target did not
 * exist, `true` when it was deleted; rejects with the last TgtError when the deadline passes.
 */
export async function forceRemoveTarget(adapter: Deleter, tid: number, options: ForceRemoveOptions = {}): Promise<boolean> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const retryMs = options.retryIntervalMs ?? 100;
  const kickAfterMs = options.kickSessionsAfterMs ?? 1000;
  const sleep = options.sleep ?? delay;
  const now = options.now ?? Date.now;

  try {
    await adapter.setTargetState(tid, 'offline');
  } catch (err) {
    if (isTgtError(err, TgtErrorCode.TARGET_NOT_FOUND)) return false;
    throw err;
  }

  const started = now();
  let lastError: TgtError | undefined;
  for (;;) {
    try {
      await adapter.deleteTarget(tid, { force: true });
      return true;
    } catch (err) {
      if (isTgtError(err, TgtErrorCode.TARGET_NOT_FOUND)) return true;
      if (!isTgtError(err, TgtErrorCode.LUN_ACTIVE, TgtErrorCode.TARGET_ACTIVE)) throw err;
      lastError = err;
    }
    const elapsed = now() - started;
    if (elapsed >= timeoutMs) break;
    if (elapsed >= kickAfterMs) await kickSessions(adapter, tid);
    await sleep(retryMs);
  }
  const message = `target ${tid} still busy after ${timeoutMs} ms: ${lastError?.message}`;
  throw new TgtError(TgtErrorCode.TARGET_ACTIVE, message, {
    argv: lastError?.argv,
    exitCode: lastError?.exitCode,
    stderr: lastError?.stderr,
    cause: lastError,
  });
}

async function kickSessions(adapter: Deleter, tid: number): Promise<void> {
  let conns;
  try {
    conns = await adapter.showConnections(tid);
  } catch (err) {
    if (isTgtError(err, TgtErrorCode.TARGET_NOT_FOUND)) return;
    throw err;
  }
  for (const c of conns) {
    try {
      await adapter.deleteConnection(tid, c.sid, c.cid);
    } catch (err) {
      // The session may have ended on its own in the meantime.
      if (!isTgtError(err, TgtErrorCode.SESSION_NOT_FOUND, TgtErrorCode.TARGET_NOT_FOUND)) throw err;
    }
  }
}
