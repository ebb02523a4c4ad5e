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

export const IMAGE_FORMATS = ['raw', 'qcow2', 'vhdx'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];
export const DISK_POLICIES = ['reset', 'persistent'] as const;
export type DiskPolicy = (typeof DISK_POLICIES)[number];
export const CONTENT_STATUSES = ['empty', 'importing', 'ready', 'failed'] as const;
export type ContentStatus = (typeof CONTENT_STATUSES)[number];

/** A golden disk image (table `images`, as in the original schema design). */
@Entity('images')
@Unique('images_name_key', ['name'])
@Check('images_size_bytes_check', '"size_bytes" > 0')
@Check('images_format_check', `"format" IN ('raw', 'qcow2', 'vhdx')`)
@Check('images_default_disk_policy_check', `"default_disk_policy" IN ('reset', 'persistent')`)
@Check('images_content_status_check', `"content_status" IN ('empty', 'importing', 'ready', 'failed')`)
@Index('idx_images_name', ['name'])
@Index('idx_images_lower_name_pattern', { synchronize: false }) // `q` prefix search (migration AddListIndexes)
@Index('idx_images_os_type', ['osType'])
@Index('idx_images_is_template', ['isTemplate'])
export class Image {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'varchar', length: 255 })
  name: string;

  @Column({ type: 'text', nullable: true })
  description: string | null;

  @Column({ name: 'os_type', type: 'varchar', length: 100, nullable: true })
  osType: string | null;

  @Column({ name: 'size_bytes', type: 'bigint', transformer: bigintNumber })
  sizeBytes: number;

  @Column({ type: 'varchar', length: 20 })
  format: ImageFormat;

  @Column({ type: 'text' })
  path: string;

  @Column({ name: 'zfs_dataset', type: 'varchar', length: 255, nullable: true })
  zfsDataset: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @Column({ name: 'created_by', type: 'uuid', nullable: true })
  createdBy: string | null;

  @Column({ type: 'jsonb', nullable: true })
  tags: string[] | null;

  @Column({ name: 'is_template', type: 'boolean', default: false })
  isTemplate: boolean;

  @Column({ name: 'parent_image_id', type: 'uuid', nullable: true })
  parentImageId: string | null;

  @ManyToOne(() => Image, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'parent_image_id', foreignKeyConstraintName: 'images_parent_image_id_fkey' })
  parentImage?: Image | null;

  /** Disk policy of clients that don't set their own: `reset` (café) or `persistent` (lab). */
  @Column({ name: 'default_disk_policy', type: 'varchar', length: 12, default: 'reset' })
  defaultDiskPolicy: DiskPolicy;

  /** State of the disk content in storage (import progress lives here so GET /images/:id shows it). */
  @Column({ name: 'content_status', type: 'varchar', length: 12, default: 'empty' })
  contentStatus: ContentStatus;

  @Column({ name: 'content_progress', type: 'real', nullable: true })
  contentProgress: number | null;

  @Column({ name: 'content_error', type: 'text', nullable: true })
  contentError: string | null;

  /**
   * The DLS node running this image's upload or import (while `importing`): at start a node marks failed only the
   * imports that were its own or whose node is down, never one that another live node is running.
   */
  @Column({ name: 'content_node_id', type: 'uuid', nullable: true })
  contentNodeId: string | null;

  @Column({ name: 'content_sha256', type: 'char', length: 64, nullable: true })
  contentSha256: string | null;

  /** The client currently booting a writable maintenance clone of this image (at most one). */
  @Column({ name: 'maintenance_client_id', type: 'uuid', nullable: true })
  maintenanceClientId: string | null;

  /** Linux-style images: kernel/initrd URLs (or TFTP/HTTP paths) and command line for an iPXE `kernel` boot. */
  @Column({ name: 'boot_kernel', type: 'text', nullable: true })
  bootKernel: string | null;

  @Column({ name: 'boot_initrd', type: 'text', nullable: true })
  bootInitrd: string | null;

  @Column({ name: 'boot_cmdline', type: 'text', nullable: true })
  bootCmdline: string | null;

  /** Row version, moved on by every write through TypeORM: the record's ETag (`"<version>"`, see common/etag). */
  @VersionColumn({ type: 'integer', default: 1 })
  version: number;
}
