import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, VersionColumn } from 'typeorm';
import { Client } from '../clients/client.entity';
import { Image } from '../images/image.entity';

export const SESSION_STATUSES = ['starting', 'booting', 'running', 'shutdown', 'error'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

/**
 * How the client's firmware started this boot, from its first DHCP request of the session (options 60 and 93):
 * `bios-pxe` (a BIOS PXE ROM, iPXE ROMs included), `uefi-pxe` (UEFI PXE: TFTP loader or an iPXE EFI ROM), `uefi-http`
 * (UEFI HTTP boot: option 60 "HTTPClient", the loader fetched by URL).
 */
export const BOOT_FIRMWARES = ['bios-pxe', 'uefi-pxe', 'uefi-http'] as const;
export type BootFirmware = (typeof BOOT_FIRMWARES)[number];

/**
 * The steps of one boot, in order, each stamped once (the first time the session reaches it): DHCP seen, a loader
 * served over TFTP, the iPXE boot script served, the iSCSI login seen in tgt, the session marked `running`.
 */
export const BOOT_STAGES = ['dhcp', 'loader', 'script', 'iscsiLogin', 'running'] as const;
export type BootStage = (typeof BOOT_STAGES)[number];
/** Entity property of each stage's timestamp. */
export const STAGE_PROPERTY = {
  dhcp: 'dhcpAt',
  loader: 'loaderAt',
  script: 'scriptAt',
  iscsiLogin: 'iscsiLoginAt',
  running: 'runningAt',
} as const satisfies Record<BootStage, keyof BootSession>;
/** Column of each stage's timestamp. */
export const STAGE_COLUMN = {
  dhcp: 'dhcp_at',
  loader: 'loader_at',
  script: 'script_at',
  iscsiLogin: 'iscsi_login_at',
  running: 'running_at',
} as const satisfies Record<BootStage, string>;

/** One boot of one client (table `boot_sessions`, as in the original schema design). */
@Entity('boot_sessions')
@Check('boot_sessions_status_check', `"status" IN ('starting', 'booting', 'running', 'shutdown', 'error')`)
@Check('boot_sessions_boot_time_seconds_check', '"boot_time_seconds" >= 0')
@Check('boot_sessions_firmware_check', `"firmware" IN ('bios-pxe', 'uefi-pxe', 'uefi-http')`)
@Index('idx_boot_sessions_client_id', ['clientId'])
@Index('idx_boot_sessions_started_at', ['startedAt'])
@Index('idx_boot_sessions_client_id_started_at', ['clientId', 'startedAt'])
@Index('idx_boot_sessions_status', ['status'])
@Index('uq_boot_sessions_open_per_client', ['clientId'], { unique: true, where: `"status" IN ('starting', 'booting', 'running')` })
export class BootSession {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'client_id', type: 'uuid' })
  clientId: string;

  @ManyToOne(() => Client, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'client_id', foreignKeyConstraintName: 'boot_sessions_client_id_fkey' })
  client?: Client;

  @Column({ name: 'image_id', type: 'uuid' })
  imageId: string;

  @ManyToOne(() => Image, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'image_id', foreignKeyConstraintName: 'boot_sessions_image_id_fkey' })
  image?: Image;

  @Column({ name: 'started_at', type: 'timestamptz', default: () => 'now()' })
  startedAt: Date;

  @Column({ name: 'ended_at', type: 'timestamptz', nullable: true })
  endedAt: Date | null;

  @Column({ type: 'varchar', length: 10, default: 'starting' })
  status: SessionStatus;

  @Column({ name: 'boot_time_seconds', type: 'integer', nullable: true })
  bootTimeSeconds: number | null;

  @Column({ name: 'error_message', type: 'text', nullable: true })
  errorMessage: string | null;

  @Column({ name: 'client_ip', type: 'inet', nullable: true })
  clientIp: string | null;

  @Column({ name: 'boot_server_ip', type: 'inet', nullable: true })
  bootServerIp: string | null;

  /** Last time the boot plane saw this client's iSCSI connection (drives running → shutdown). */
  @Column({ name: 'last_seen_at', type: 'timestamptz', nullable: true })
  lastSeenAt: Date | null;

  /** How the firmware started this boot, from the DHCP request that opened the session (null: not opened by DHCP). */
  @Column({ type: 'varchar', length: 10, nullable: true })
  firmware: BootFirmware | null;

  /**
   * DHCP handed this boot a Secure Boot loader (the client is marked Secure Boot, its firmware is UEFI): Debian's shim
   * or the operator's signed loader. The firmware then verified each stage, or refused it and the session fails.
   */
  @Column({ name: 'secure_boot', type: 'boolean', default: false })
  secureBoot: boolean;

  /** When this session first saw the client's DHCP (null: opened another way, e.g. an external DHCP server). */
  @Column({ name: 'dhcp_at', type: 'timestamptz', nullable: true })
  dhcpAt: Date | null;

  /** When a loader (undionly.kpxe, ipxe.efi…) was first served to the client over TFTP in this session. */
  @Column({ name: 'loader_at', type: 'timestamptz', nullable: true })
  loaderAt: Date | null;

  /** When the client's iPXE boot script was first served in this session. */
  @Column({ name: 'script_at', type: 'timestamptz', nullable: true })
  scriptAt: Date | null;

  /** When tgt first listed this boot's iSCSI login (never before an earlier stage of the session). */
  @Column({ name: 'iscsi_login_at', type: 'timestamptz', nullable: true })
  iscsiLoginAt: Date | null;

  /** When the session reached `running`. */
  @Column({ name: 'running_at', type: 'timestamptz', nullable: true })
  runningAt: Date | null;

  /** Row version, moved on by every write through TypeORM: the record's ETag (`"<version>"`, see common/etag). */
  @VersionColumn({ type: 'integer', default: 1 })
  version: number;
}
