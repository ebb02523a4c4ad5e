import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  Unique,
  UpdateDateColumn,
  VersionColumn,
} from 'typeorm';
import type { NetworkRange } from '../../network';
import { DiskPolicy, Image } from '../images/image.entity';
import { ImageSnapshot } from '../versions/image-snapshot.entity';
import type { BootLoader } from '../clients/client.entity';

/**
 * A set of clients that share boot settings (a room, a lab). Each setting left null on a client is taken from its
 * group (see `effective-settings.ts`). A group may be the default group of one network range: DHCP puts unknown
 * MACs it registers there (range policy `register`) into it.
 */
@Entity('client_groups')
@Unique('client_groups_name_key', ['name'])
@Unique('client_groups_default_for_range_id_key', ['defaultForRangeId'])
@Check('client_groups_disk_policy_check', `"disk_policy" IN ('reset', 'persistent')`)
@Check('client_groups_boot_loader_check', `"boot_loader" IN ('undionly.kpxe', 'ipxe.pxe', 'ipxe.efi', 'snponly.efi')`)
export class ClientGroup {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'varchar', length: 100 })
  name: string;

  @Column({ type: 'text', nullable: true })
  description: string | null;

  @Column({ name: 'image_id', type: 'uuid', nullable: true })
  imageId: string | null;

  @ManyToOne(() => Image, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'image_id', foreignKeyConstraintName: 'client_groups_image_id_fkey' })
  image?: Image | null;

  @Column({ name: 'pinned_snapshot_id', type: 'uuid', nullable: true })
  pinnedSnapshotId: string | null;

  @ManyToOne(() => ImageSnapshot, { onDelete: 'RESTRICT', nullable: true })
  @JoinColumn({ name: 'pinned_snapshot_id', foreignKeyConstraintName: 'client_groups_pinned_snapshot_id_fkey' })
  pinnedSnapshot?: ImageSnapshot | null;

  @Column({ name: 'disk_policy', type: 'varchar', length: 12, nullable: true })
  diskPolicy: DiskPolicy | null;

  @Column({ name: 'boot_loader', type: 'varchar', length: 32, nullable: true })
  bootLoader: BootLoader | null;

  /** Extra kernel command line for the group's clients (a client's own customBootParams replaces it). */
  @Column({ name: 'boot_params', type: 'text', nullable: true })
  bootParams: string | null;

  /** Network range whose DHCP-registered unknown MACs join this group (at most one group per range). */
  @Column({ name: 'default_for_range_id', type: 'uuid', nullable: true })
  defaultForRangeId: string | null;

  // Target by name: a type-only import keeps the network module's index out of the entities' load order.
  @ManyToOne('NetworkRange', { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'default_for_range_id', foreignKeyConstraintName: 'client_groups_default_for_range_id_fkey' })
  defaultForRange?: NetworkRange | null;

  @VersionColumn({ type: 'integer', default: 1 })
  version: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
