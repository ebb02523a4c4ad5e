/**
 * What the boot plane needs from the iSCSI module (`IscsiExportsService`), as an injection token so the boot plane
 * can be unit-tested with a fake and the two modules stay decoupled. `PxeBootModule` binds it to the real service.
 */
export const ISCSI_EXPORTS = Symbol('ISCSI_EXPORTS');

/** One client's export: everything an iPXE `sanboot` needs. */
export interface IscsiExportInfo {
  targetIqn: string;
  initiatorIqn: string;
  chapUser: string;
  chapSecret: string;
  portal: { address: string; port: number };
  /** Always 1 with tgt (LUN 0 is the controller pseudo-LUN). */
  lun: number;
}

/** A live iSCSI login of a client, as tgt reports it. `since`: when it was first seen. */
export interface IscsiActiveSession {
  ip: string | null;
  since: Date | number;
}

export interface IscsiExportsPort {
  ensureExport(clientId: string, diskPath: string): Promise<IscsiExportInfo>;
  removeExport(clientId: string, options: { force: boolean }): Promise<unknown>;
  /** clientId → its live login. */
  activeSessions(): Promise<Map<string, IscsiActiveSession>>;
}
