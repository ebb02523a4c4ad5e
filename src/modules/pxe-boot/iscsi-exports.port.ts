import type { ExportBoot, IscsiActiveSession, IscsiExportInfo } from '../iscsi';

export type { ExportBoot, IscsiActiveSession, IscsiExportInfo };

/**
 * What the boot plane needs from the iSCSI module (`IscsiExportsService`), as an injection token so the boot plane
 * can be unit-tested with a fake and the two modules stay decoupled. `PxeBootModule` binds it to the real service.
 */
export const ISCSI_EXPORTS = Symbol('ISCSI_EXPORTS');

export interface IscsiExportsPort {
  /** With `boot`, the export's CHAP account carries that boot's secret (see `IscsiExportsService`). */
  ensureExport(clientId: string, diskPath: string, boot?: ExportBoot): Promise<IscsiExportInfo>;
  /** The export's login details for boot `sessionId` when its account carries that boot's secret; read-only. */
  exportOfBoot(clientId: string, sessionId: string): Promise<IscsiExportInfo | null>;
  removeExport(clientId: string, options: { force: boolean }): Promise<unknown>;
  /** clientId → its live login. */
  activeSessions(): Promise<Map<string, IscsiActiveSession>>;
  /** One client's live login (its target only), or null. */
  activeSessionOf(clientId: string): Promise<IscsiActiveSession | null>;
}
