import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { Principal } from '@common/auth/auth.decorators';
import type { StreamTicketVerifier } from '@common/auth/stream-ticket';

/** How long a stream ticket is valid. */
export const TICKET_TTL_MS = 30_000;
/** Outstanding tickets kept at most (the oldest go first): issuing can't grow memory without bound. */
const MAX_TICKETS = 10_000;

/**
 * Short-lived, single-use stream tickets (`POST /events/ticket` → `GET /events?ticket=`), so a browser's
 * EventSource never puts an access token in a URL. 256 random bits; kept in memory of the node that issued them,
 * so a client opens the stream on the node it got the ticket from.
 */
@Injectable()
export class EventTicketsService implements StreamTicketVerifier {
  private readonly tickets = new Map<string, { owner: Principal; expiresMs: number }>();

  constructor(private now: () => number = Date.now) {}

  issue(owner: Principal): { ticket: string; expiresAt: Date } {
    const nowMs = this.now();
    for (const [t, v] of this.tickets) {
      if (v.expiresMs <= nowMs || this.tickets.size >= MAX_TICKETS) this.tickets.delete(t);
      else break; // insertion order = expiry order
    }
    const ticket = randomBytes(32).toString('base64url');
    const expiresMs = nowMs + TICKET_TTL_MS;
    this.tickets.set(ticket, { owner: { id: owner.id, username: owner.username, role: owner.role }, expiresMs });
    return { ticket, expiresAt: new Date(expiresMs) };
  }

  consume(ticket: string): Principal | null {
    const v = this.tickets.get(ticket);
    if (!v) return null;
    this.tickets.delete(ticket);
    return v.expiresMs > this.now() ? v.owner : null;
  }
}
