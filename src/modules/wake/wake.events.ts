/**
 * Seam for live events. Each wake batch (a client, a group, a bulk action, a schedule run) is reported here when a
 * sink is bound to {@link WAKE_EVENT_SINK}; none is bound yet. An events publisher binds one in WakeModule, e.g.
 * `{ provide: WAKE_EVENT_SINK, inject: [EventsService], useFactory: (e) => ({ wakeSent: (b) => void e.publish('wake', b) }) }`.
 * Schedule runs are also audit entries, which such a publisher may already carry.
 */
import type { RangeSource } from './wake-range';

export const WAKE_EVENT_SINK = Symbol('WAKE_EVENT_SINK');

/** What started a wake batch. */
export type WakeTrigger = 'client' | 'group' | 'bulk' | 'schedule';

/** One client's outcome in a batch. */
export interface WakeClientOutcome {
  clientId: string;
  hostname: string;
  macAddress: string;
  status: 'ok' | 'failed';
  code?: string;
  message?: string;
  rangeId?: string;
  range?: string;
  interface?: string;
  source?: RangeSource;
}

/** A finished wake batch. */
export interface WakeBatchEvent {
  trigger: WakeTrigger;
  groupId?: string;
  scheduleId?: string;
  total: number;
  sent: number;
  failed: number;
  clients: WakeClientOutcome[];
}

/** Receives finished wake batches; must not throw or block (publish and return). */
export interface WakeEventSink {
  wakeSent(event: WakeBatchEvent): void;
}
