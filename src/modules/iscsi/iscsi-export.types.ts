/** One client's export: everything an initiator (iPXE `sanboot`, the initramfs) needs to log in to its disk. */
export interface IscsiExportInfo {
  targetIqn: string;
  initiatorIqn: string;
  chapUser: string;
  chapSecret: string;
  /**
   * Where tgtd listens (DLS_ISCSI_PORTAL). The default address `0.0.0.0` means every address: a boot script names
   * the address the client reached DLS on instead (the boot plane's `clientPortal`).
   */
  portal: { address: string; port: number };
  /** Always 1 with tgt (LUN 0 is the controller pseudo-LUN). */
  lun: number;
}

/** A live iSCSI login of a client, as tgt reports it. `since`: when it was first seen. */
export interface IscsiActiveSession {
  ip: string | null;
  since: Date | number;
}

/**
 * Where the per-boot CHAP nonce comes from: each client's open boot session id. The catalogue owns `boot_sessions`
 * and depends on this module, so it provides this port (token {@link OPEN_BOOT_SESSIONS}) instead of iSCSI reading
 * its table.
 */
export interface OpenBootSessions {
  /** clientId → id of its open boot session (every client, or just `clientId`). */
  openSessionIds(clientId?: string): Promise<Map<string, string>>;
}

/** Injection token of {@link OpenBootSessions}. */
export const OPEN_BOOT_SESSIONS = Symbol('OPEN_BOOT_SESSIONS');
