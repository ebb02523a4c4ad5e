import { Inject, Injectable } from '@nestjs/common';
import { BootTarget, ClientDisksService } from '../catalog';
import { ISCSI_EXPORTS, IscsiExportInfo, IscsiExportsPort } from './iscsi-exports.port';

/** A bootable client, ready: what it boots (the boot policy's answer) and the iSCSI export of its disk. */
export interface PreparedBoot {
  target: BootTarget;
  export: IscsiExportInfo;
}

interface Entry {
  sessionId: string;
  prepared: PreparedBoot;
}

interface Flight {
  sessionId: string | null;
  done: Promise<PreparedBoot>;
}

/**
 * The one "prepare the boot" step, used by everyone who readies a client: its copy-on-write disk (through the
 * catalogue, which asks the boot policy what it boots), then the iSCSI export of that disk. Both halves are
 * idempotent, so the DHCP prewarm and the script request can both call it.
 *
 * `sessionId` is the client's open boot session: the export's CHAP secret is derived from it, so each boot gets a
 * new secret (`null`: no session could be opened — the account keeps the secret it has).
 *
 * Once per boot: the result for a session is kept in memory, so the prewarm at DHCP time and every script request
 * of that boot after it cost no database round trip and no `tgtadm` call, and concurrent calls for one client share
 * one preparation. The kept result is dropped as soon as anything it was made from changes
 * ({@link BootCacheSubscriber}: the client, its group, image, versions, disk or export); a preparation that ran while
 * such a change happened is not kept.
 */
@Injectable()
export class BootPreparation {
  private readonly done = new Map<string, Entry>();
  private readonly flights = new Map<string, Flight>();
  /** Bumped by every invalidation: per client, and for all clients at once. */
  private readonly generations = new Map<string, number>();
  private generation = 0;
  private preparations = 0;

  constructor(
    private readonly disks: ClientDisksService,
    @Inject(ISCSI_EXPORTS) private readonly iscsi: IscsiExportsPort,
  ) {}

  /** The client's disk and export for this boot: from memory when this session already prepared them. */
  prepare(clientId: string, sessionId: string | null): Promise<PreparedBoot> {
    const kept = sessionId ? this.cached(clientId, sessionId) : null;
    if (kept) return Promise.resolve(kept);
    const flight = this.flights.get(clientId);
    if (flight && flight.sessionId === sessionId) return flight.done;
    const mark = this.mark(clientId);
    const done = (async () => {
      if (flight) await flight.done.catch(() => undefined); // another session's preparation finishes first
      this.preparations++;
      const { target, disk } = await this.disks.prepare(clientId);
      const prepared: PreparedBoot = {
        target,
        export: await this.iscsi.ensureExport(clientId, disk.path, sessionId ? { sessionId } : undefined),
      };
      if (sessionId && this.mark(clientId) === mark) this.done.set(clientId, { sessionId, prepared });
      return prepared;
    })().finally(() => {
      if (this.flights.get(clientId)?.done === done) this.flights.delete(clientId);
    });
    this.flights.set(clientId, { sessionId, done });
    return done;
  }

  /** What this session prepared, if it is still current (synchronous: the script route's repeated path). */
  cached(clientId: string, sessionId: string): PreparedBoot | null {
    const e = this.done.get(clientId);
    return e && e.sessionId === sessionId ? e.prepared : null;
  }

  /** Forgets what was prepared for one client (or for all), e.g. after its image or disk changed. */
  invalidate(clientId?: string): void {
    if (clientId === undefined) {
      this.generation++;
      this.done.clear();
      return;
    }
    this.generations.set(clientId, (this.generations.get(clientId) ?? 0) + 1);
    this.done.delete(clientId);
  }

  /** Preparations really run (not answered from memory), for tests and logs. */
  get preparationCount(): number {
    return this.preparations;
  }

  private mark(clientId: string): string {
    return `${this.generation}/${this.generations.get(clientId) ?? 0}`;
  }
}
