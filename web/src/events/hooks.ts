import { useEffect, useRef, useSyncExternalStore } from 'react';
import { events, type StreamStatus } from './stream';
import type { EventBodies, TypedEvent } from './types';

/** Calls `fn` for each live event of `type` while the component is mounted (the latest `fn`, no resubscribe). */
export function useEvent<T extends keyof EventBodies>(type: T | T[] | '*', fn: (e: TypedEvent<T>) => void): void {
  const ref = useRef(fn);
  ref.current = fn;
  const key = Array.isArray(type) ? type.join(',') : type;
  useEffect(() => events.on(type, (e) => ref.current(e)), [key]);
}

export function useStreamStatus(): StreamStatus {
  return useSyncExternalStore(
    (cb) => events.onStatus(cb),
    () => events.status,
  );
}
