import { Injectable } from '@nestjs/common';
import type { IscsiActiveSession } from './iscsi-exports.port';

/**
 * How long a client's iSCSI login still marks its disk as in use after tgt last listed it. A live client is not
 * listed for a moment now and then: iPXE never answers tgt's NOP-In pings, so tgt drops its connection every
 * nop_interval × nop_count (15 s) and iPXE logs in again on its next disk access (measured: gone for < 3 s); an
 * operating system's initiator reconnects after DefaultTime2Wait (2 s). A script request from another address in
 * that gap must still find the disk in use.
 */
export const LOGIN_LINGER_MS = 10_000;

/**
 * Where each client's disk was last seen logged in from, and when (memory only; fed by every `tgtadm` listing the
 * boot plane makes: the session monitor's pass every 2 s and the script route's fresh look). Entries older than
 * {@link LOGIN_LINGER_MS} are dropped as they are met.
 */
@Injectable()
export class RecentLogins {
  private readonly seen = new Map<string, { ip: string; atMs: number }>();

  /** Records a listing taken at `nowMs` (clientId → live login). */
  record(logins: ReadonlyMap<string, IscsiActiveSession>, nowMs: number = Date.now()): void {
    for (const [clientId, login] of logins) if (login.ip) this.seen.set(clientId, { ip: login.ip, atMs: nowMs });
    for (const [clientId, s] of this.seen) if (nowMs - s.atMs > LOGIN_LINGER_MS) this.seen.delete(clientId);
  }

  /** Records one client's live login (or its absence: nothing to record) seen at `nowMs`. */
  recordOne(clientId: string, login: IscsiActiveSession | null, nowMs: number = Date.now()): void {
    if (login?.ip) this.seen.set(clientId, { ip: login.ip, atMs: nowMs });
  }

  /** The address the client's disk was logged in from at most {@link LOGIN_LINGER_MS} ago, else null. */
  recentIp(clientId: string, nowMs: number = Date.now()): string | null {
    const s = this.seen.get(clientId);
    if (!s) return null;
    if (nowMs - s.atMs > LOGIN_LINGER_MS) {
      this.seen.delete(clientId);
      return null;
    }
    return s.ip;
  }
}
