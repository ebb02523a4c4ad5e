import { DlsNode } from '../../cluster';
import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, OneToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { Client } from '../clients/client.entity';
import { Image } from '../images/image.entity';
import { ImageSnapshot } from '../versions/image-snapshot.entity';

export const CLIENT_DISK_STATES = ['creating', 'ready', 'destroying'] as const;
export type ClientDiskState = (typeof CLIENT_DISK_STATES)[number];

/**
 * A client's writable copy-on-write disk. The row is written (state `creating`) before storage is touched, so a
 * crash half-way is visible and resumable; the FK on the version (RESTRICT) keeps a version with disks alive.
 */
@Entity('client_disks')
@Check('client_disks_state_check', `"state" IN ('creating', 'ready', 'destroying')`)
@Index('idx_client_disks_snapshot_id', ['snapshotId'])
export class ClientDisk {
  @PrimaryColumn({ name: 'client_id', type: 'uuid' })
  clientId: string;

  @OneToOne(() => Client, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'client_id', foreignKeyConstraintName: 'client_disks_client_id_fkey' })
  client?: Client;

  @Column({ name: 'image_id', type: 'uuid' })
  imageId: string;

  @ManyToOne(() => Image, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'image_id', foreignKeyConstraintName: 'client_disks_image_id_fkey' })
  image?: Image;

  @Column({ name: 'snapshot_id', type: 'uuid' })
  snapshotId: string;

  @ManyToOne(() => ImageSnapshot, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'snapshot_id', foreignKeyConstraintName: 'client_disks_snapshot_id_fkey' })
  snapshot?: ImageSnapshot;

  @Column({ type: 'text', nullable: true })
  path: string | null;

  @Column({ type: 'varchar', length: 12, default: 'creating' })
  state: ClientDiskState;

  /**
   * The node whose storage holds the disk (several nodes on one database): a disk lives and dies with its node. Null
   * for disks made before DLS recorded it.
   */
  @Column({ name: 'node_id', type: 'uuid', nullable: true })
  nodeId: string | null;

  @ManyToOne(() => DlsNode, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'node_id', foreignKeyConstraintName: 'client_disks_node_id_fkey' })
  node?: DlsNode;

  /** A maintenance clone: its content can be committed as a new version of the image. */
  @Column({ name: 'is_maintenance', type: 'boolean', default: false })
  isMaintenance: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
