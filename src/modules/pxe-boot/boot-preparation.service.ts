import { Inject, Injectable } from '@nestjs/common';
import { BootTarget, ClientDisksService } from '../catalog';
import { ISCSI_EXPORTS, IscsiExportInfo, IscsiExportsPort } from './iscsi-exports.port';

/** A bootable client, ready: what it boots (the boot policy's answer) and the iSCSI export of its disk. */
export interface PreparedBoot {
  target: BootTarget;
  export: IscsiExportInfo;
}

/**
 * The one "prepare the boot" step, used by everyone who readies a client: its copy-on-write disk (through the
 * catalogue, which asks the boot policy what it boots), then the iSCSI export of that disk. Both halves are
 * idempotent, so the DHCP prewarm and the script request can both call it; the second call finds the work done.
 *
 * `sessionId` is the client's open boot session: the export's CHAP secret is derived from it, so each boot gets a
 * new secret (`null`: no session could be opened — the account keeps the secret it has).
 */
@Injectable()
export class BootPreparation {
  constructor(
    private readonly disks: ClientDisksService,
    @Inject(ISCSI_EXPORTS) private readonly iscsi: IscsiExportsPort,
  ) {}

  async prepare(clientId: string, sessionId: string | null): Promise<PreparedBoot> {
    const { target, disk } = await this.disks.prepare(clientId);
    return { target, export: await this.iscsi.ensureExport(clientId, disk.path, sessionId ? { sessionId } : undefined) };
  }
}
