/** Public surface of the iSCSI module; other modules import from here, not from its files. */
export { IscsiModule } from './iscsi.module';
export { IscsiExportsService } from './iscsi-exports.service';
export type { ExportBoot } from './iscsi-exports.service';
export { IscsiExport } from './iscsi-export.entity';
export type { IscsiActiveSession, IscsiExportInfo, OpenBootSessions } from './iscsi-export.types';
export { OPEN_BOOT_SESSIONS } from './iscsi-export.types';
export { IscsiErrorCode } from './iscsi.errors';
