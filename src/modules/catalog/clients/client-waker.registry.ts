import { Injectable } from '@nestjs/common';
import { ClientErrorCode } from './clients.errors';

/** What waking one client did: sent, or why not. */
export interface ClientWakeResult {
  clientId: string;
  hostname: string;
  status: 'ok' | 'failed';
  /** Error code when `failed` (e.g. WAKE_NO_RANGE, INTERFACE_UNAVAILABLE). */
  code?: string;
  message?: string;
}

/** Wakes clients (Wake-on-LAN) and reports per client, in the order given; never throws for one client's failure. */
export interface ClientWaker {
  wakeClients(clients: readonly { id: string; hostname: string }[]): Promise<ClientWakeResult[]>;
}

/**
 * Where the bulk `wake` action finds its waker. Waking needs the boot plane's sockets, and the boot plane depends on
 * the catalogue, never the reverse: so the wake module, which sits above both, registers its waker here at start
 * (as modules register readiness checks), and the catalogue stays free of any dependency on it. Without one, every
 * client of a `wake` action fails with WAKE_UNAVAILABLE.
 */
@Injectable()
export class ClientWakerRegistry {
  private waker: ClientWaker | null = null;

  /** Sets the waker (the later registration wins). */
  register(waker: ClientWaker): void {
    this.waker = waker;
  }

  async wake(clients: readonly { id: string; hostname: string }[]): Promise<ClientWakeResult[]> {
    if (this.waker) return this.waker.wakeClients(clients);
    return clients.map((c) => ({
      clientId: c.id,
      hostname: c.hostname,
      status: 'failed' as const,
      code: ClientErrorCode.WAKE_UNAVAILABLE,
      message: 'Wake-on-LAN is not available in this build',
    }));
  }
}
