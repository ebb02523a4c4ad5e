import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  Unique,
  UpdateDateColumn,
  VersionColumn,
} from 'typeorm';
import { bigintNumber } from '@database/transformers';
import { DiskPolicy, Image } from '../images/image.entity';
import { ImageSnapshot } from '../versions/image-snapshot.entity';
import { ClientGroup } from '../groups/client-group.entity';

export const BOOT_MODES = ['pxe', 'uefi', 'legacy'] as const;
export type BootMode = (typeof BOOT_MODES)[number];
/** iPXE loaders a plain PXE ROM can be given over TFTP (Debian's `ipxe` package). */
export const BOOT_LOADERS = ['undionly.kpxe', 'ipxe.pxe', 'ipxe.efi', 'snponly.efi'] as const;
export type BootLoader = (typeof BOOT_LOADERS)[number];

/** A diskless PC, known by its MAC address (table `clients`, as in the original schema design). */
@Entity('clients')
@Unique('clients_mac_address_key', ['macAddress'])
@Check('clients_boot_mode_check', `"boot_mode" IN ('pxe', 'uefi', 'legacy')`)
@Check('clients_cpu_cores_check', '"cpu_cores" > 0')
@Check('clients_memory_mb_check', '"memory_mb" > 0')
@Check('clients_disk_policy_check', `"disk_policy" IN ('reset', 'persistent')`)
@Check('clients_boot_loader_check', `"boot_loader" IN ('undionly.kpxe', 'ipxe.pxe', 'ipxe.efi', 'snponly.efi')`)
@Index('idx_clients_mac_address', ['macAddress'])
@Index('idx_clients_enabled', ['enabled'])
@Index('idx_clients_group_id', ['groupId'])
@Index('idx_clients_assigned_image_id', ['assignedImageId'])
// List search and sort (migration AddListIndexes; expression indexes TypeORM can't describe, so not synchronised):
@Index('idx_clients_lower_hostname_pattern', { synchronize: false })
@Index('idx_clients_mac_address_pattern', { synchronize: false })
@Index('idx_clients_hostname_id', { synchronize: false })
@Index('uq_clients_ip_address', ['ipAddress'], { unique: true, where: '"ip_address" IS NOT NULL' })
export class Client {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'mac_address', type: 'varchar', length: 17 })
  macAddress: string;

  @Column({ type: 'varchar', length: 255 })
  hostname: string;

  /** DHCP reservation; at most one client per address (partial unique index). */
  @Column({ name: 'ip_address', type: 'inet', nullable: true })
  ipAddress: string | null;

  @Column({ name: 'assigned_image_id', type: 'uuid', nullable: true })
  assignedImageId: string | null;

  @ManyToOne(() => Image, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'assigned_image_id', foreignKeyConstraintName: 'clients_assigned_image_id_fkey' })
  assignedImage?: Image | null;

  @Column({ name: 'boot_mode', type: 'varchar', length: 10, default: 'pxe' })
  bootMode: BootMode;

  @Column({ name: 'cpu_cores', type: 'integer', default: 2 })
  cpuCores: number;

  @Column({ name: 'memory_mb', type: 'integer', default: 2048 })
  memoryMb: number;

  @Column({ name: 'network_config', type: 'jsonb', nullable: true })
  networkConfig: Record<string, unknown> | null;

  @Column({ name: 'custom_boot_params', type: 'text', nullable: true })
  customBootParams: string | null;

  @Column({ type: 'boolean', default: true })
  enabled: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @Column({ name: 'last_boot_at', type: 'timestamptz', nullable: true })
  lastBootAt: Date | null;

  @Column({ name: 'boot_count', type: 'bigint', default: 0, transformer: bigintNumber })
  bootCount: number;

  /** Boot this version instead of the image's published one. */
  @Column({ name: 'pinned_snapshot_id', type: 'uuid', nullable: true })
  pinnedSnapshotId: string | null;

  @ManyToOne(() => ImageSnapshot, { onDelete: 'RESTRICT', nullable: true })
  @JoinColumn({ name: 'pinned_snapshot_id', foreignKeyConstraintName: 'clients_pinned_snapshot_id_fkey' })
  pinnedSnapshot?: ImageSnapshot | null;

  /** null = the image's default disk policy. */
  @Column({ name: 'disk_policy', type: 'varchar', length: 12, nullable: true })
  diskPolicy: DiskPolicy | null;

  /** Loader for a plain PXE ROM; null = chosen from the client's architecture (DHCP option 93). */
  @Column({ name: 'boot_loader', type: 'varchar', length: 32, nullable: true })
  bootLoader: BootLoader | null;

  /**
   * The PC keeps Secure Boot on: on UEFI it gets Debian's signed chain (shim → GRUB → a signed kernel and its
   * initramfs) instead of iPXE, whose Debian build is not signed. Its image must boot a kernel (not sanboot).
   */
  @Column({ name: 'secure_boot', type: 'boolean', default: false })
  secureBoot: boolean;

  /** The client's group: every boot setting left null here is taken from it (see `effective-settings.ts`). */
  @Column({ name: 'group_id', type: 'uuid', nullable: true })
  groupId: string | null;

  @ManyToOne(() => ClientGroup, { onDelete: 'RESTRICT', nullable: true })
  @JoinColumn({ name: 'group_id', foreignKeyConstraintName: 'clients_group_id_fkey' })
  group?: ClientGroup | null;

  /** Registered automatically by DHCP (unknown-client policy `register`), waiting for an admin. */
  @Column({ type: 'boolean', default: false })
  pending: boolean;

  /** Row version, moved on by every write through TypeORM: the record's ETag (`"<version>"`, see common/etag). */
  @VersionColumn({ type: 'integer', default: 1 })
  version: number;
}
