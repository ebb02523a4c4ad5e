import { SetMetadata } from '@nestjs/common';
import type { Principal } from './auth.decorators';

export const STREAM_TICKET_KEY = 'dls:streamTicket';

/**
 * Marks the one route (the event stream) that the global guard opens with `?ticket=` only: a short-lived, single-use
 * stream ticket (a browser's EventSource cannot send an Authorization header). A Bearer token alone gets a 401 there,
 * so nothing holds a stream open on a token that leaked into a URL or a crawler; every other route ignores tickets.
 */
export const StreamTicketOnly = () => SetMetadata(STREAM_TICKET_KEY, true);

/** Consumes stream tickets (the events module provides it under {@link STREAM_TICKETS}). */
export interface StreamTicketVerifier {
  /** The ticket's owner, once: the ticket is gone afterwards. Null when unknown, used or expired. */
  consume(ticket: string): Principal | null;
}

export const STREAM_TICKETS = Symbol('dls:streamTickets');
