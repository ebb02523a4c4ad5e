import { Role } from '@common/auth/role';
import { EventTicketsService, TICKET_TTL_MS } from './event-tickets.service';

describe('EventTicketsService', () => {
  const owner = { id: 'u1', username: 'ann', role: Role.Viewer };

  it('a ticket is single-use and carries its owner', () => {
    const t = new EventTicketsService();
    const { ticket, expiresAt } = t.issue(owner);
    expect(ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(expiresAt.getTime()).toBeGreaterThan(Date.now());
    expect(t.consume(ticket)).toEqual(owner);
    expect(t.consume(ticket)).toBeNull();
  });

  it('expires after the TTL; unknown tickets are refused', () => {
    let now = 1_000_000;
    const t = new EventTicketsService(() => now);
    const { ticket } = t.issue(owner);
    now += TICKET_TTL_MS;
    expect(t.consume(ticket)).toBeNull();
    expect(t.consume('nope')).toBeNull();
  });
});
