import { SetMetadata } from '@nestjs/common';
import type { Principal } from './auth.decorators';

export const STREAM_TICKET_KEY = 'dls:streamTicket';

/**
 * Marks the one route (the event stream) where the global guard also accepts `?ticket=`: a short-lived, single-use
 * stream ticket, because a browser's EventSource cannot send an Authorization header. Every other route ignores it.
 */
export const AcceptsStreamTicket = () => SetMetadata(STREAM_TICKET_KEY, true);

/** Consumes stream tickets (the events module provides it under {@link STREAM_TICKETS}). */
export interface StreamTicketVerifier {
  /** The ticket's owner, once: the ticket is gone afterwards. Null when unknown, used or expired. */
  consume(ticket: string): Principal | null;
}

export const STREAM_TICKETS = Symbol('dls:streamTickets');
