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

/** What {@link removeAllTargets} got done. */
export interface RemoveAllResult {
  /** Targets gone (deleted, or already absent). */
  removed: number;
  /** Targets still there when it gave up (deadline, or tgtd stopped answering). */
  left: number;
  /** Why it gave up early, if it did. */
  error?: TgtError;
}

/**
 * Removes every target of a tgtd about to stop, so that tgtd closes each backing file itself, one at a time, before it
 * exits. On a FUSE filesystem (zfs-fuse) a `close` is a FLUSH the FUSE daemon must answer: a tgtd SIGKILLed with ~1,000
 * LUNs open (and 16 I/O threads each) sends them all from its exit path at once, and after a boot storm zfs-fuse left
 * one unanswered — tgtd stayed a zombie holding a dataset busy, and every unmount then took ~25 s.
 *
 * All targets go offline first (no new logins while the rest are deleted), then each is deleted with
 * {@link forceRemoveTarget} (bounded by `perTargetTimeoutMs`). Bounded overall by `timeoutMs`; a target that cannot be
 * deleted in its bound is left and the next one tried. Gives up at once when tgtd stops answering (TIMEOUT,
 * DAEMON_UNREACHABLE): every further call would wait its full timeout.
 */
export async function removeAllTargets(
  adapter: Deleter,
  tids: readonly number[],
  options: ForceRemoveOptions & { perTargetTimeoutMs?: number } = {},
): Promise<RemoveAllResult> {
  const now = options.now ?? Date.now;
  const deadline = now() + (options.timeoutMs ?? 5000);
  const perTarget = options.perTargetTimeoutMs ?? 5000;
  const fatal = (err: unknown): err is TgtError => isTgtError(err, TgtErrorCode.TIMEOUT, TgtErrorCode.DAEMON_UNREACHABLE);
  let removed = 0;
  for (const tid of tids) {
    if (now() >= deadline) return { removed, left: tids.length - removed };
    try {
      await adapter.setTargetState(tid, 'offline');
    } catch (err) {
      if (fatal(err)) return { removed, left: tids.length - removed, error: err };
      // TARGET_NOT_FOUND and the like: the delete below sees it again.
    }
  }
  let lastError: TgtError | undefined;
  for (const [i, tid] of tids.entries()) {
    const left = deadline - now();
    if (left <= 0) return { removed, left: tids.length - i, ...(lastError ? { error: lastError } : {}) };
    try {
      await forceRemoveTarget(adapter, tid, { ...options, timeoutMs: Math.min(left, perTarget) });
      removed += 1;
    } catch (err) {
      if (!(err instanceof TgtError)) throw err;
      if (fatal(err)) return { removed, left: tids.length - i, error: err };
      lastError = err;
    }
  }
  return { removed, left: tids.length - removed, ...(lastError ? { error: lastError } : {}) };
}
