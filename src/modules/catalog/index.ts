/**
 * Public surface of the catalogue. Other modules import from here only — entities first (TypeORM relations of
 * other modules' entities point at them), then the boot policy, then services.
 */
export { Image, IMAGE_FORMATS, DISK_POLICIES, CONTENT_STATUSES } from './images/image.entity';
export type { ImageFormat, DiskPolicy, ContentStatus } from './images/image.entity';
export { ImageSnapshot } from './versions/image-snapshot.entity';
export { Client, BOOT_LOADERS, BOOT_MODES } from './clients/client.entity';
export type { BootLoader, BootMode } from './clients/client.entity';
export { ClientGroup } from './groups/client-group.entity';
export { ClientDisk } from './disks/client-disk.entity';
export { BootSession, SESSION_STATUSES, BOOT_STAGES, BOOT_FIRMWARES, STAGE_PROPERTY, STAGE_COLUMN } from './boot-sessions/boot-session.entity';
export type { SessionStatus, BootStage, BootFirmware } from './boot-sessions/boot-session.entity';
export { OPEN_STATUSES, assertTransition, isFinal } from './boot-sessions/boot-session.state-machine';
export { BootSessionErrorCode } from './boot-sessions/boot-sessions.errors';
export * from './boot-policy/boot-policy';
export { effectiveSettings } from './groups/effective-settings';
export type { ClientSettings, GroupSettings, EffectiveSettings } from './groups/effective-settings';
export { BootPolicyErrorCode } from './boot-policy/boot-policy.errors';
export { ClientDirectory, pendingHostname } from './boot-policy/client-directory';
export type { ClientBootFacts } from './boot-policy/client-directory';
export { BootPolicyService } from './boot-policy/boot-policy.service';
export type { BootTarget } from './boot-policy/boot-policy.service';
export { BootSessionsService } from './boot-sessions/boot-sessions.service';
export type { StageMarks } from './boot-sessions/boot-sessions.service';
export { ClientDisksService } from './disks/client-disks.service';
export { ClientsService } from './clients/clients.service';
export { ClientWakerRegistry } from './clients/client-waker.registry';
export type { ClientWaker, ClientWakeResult } from './clients/client-waker.registry';
export { ClientErrorCode } from './clients/clients.errors';
export { ImagesService } from './images/images.service';
export { SnapshotsService } from './versions/snapshots.service';
export { CatalogModule } from './catalog.module';
export { OpenBootSessionsModule } from './boot-sessions/open-boot-sessions.module';
