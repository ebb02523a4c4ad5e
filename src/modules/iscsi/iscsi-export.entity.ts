import { Column, CreateDateColumn, Entity, JoinColumn, OneToOne, PrimaryColumn, Unique, UpdateDateColumn } from 'typeorm';
import type { Client } from '../catalog';

/**
 * Desired iSCSI export of one client's disk. tgtd keeps no state across restarts, so this table is the source of
 * truth that the exporter re-creates targets from. The CHAP secret is derived (HMAC of a server key), never stored.
 */
@Entity('iscsi_exports')
@Unique('iscsi_exports_tid_key', ['tid'])
@Unique('iscsi_exports_target_iqn_key', ['targetIqn'])
export class IscsiExport {
  @PrimaryColumn({ name: 'client_id', type: 'uuid' })
  clientId: string;

  // The target by name: a type-only import keeps the catalogue's index out of the entities' load order.
  @OneToOne('Client', { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'client_id', foreignKeyConstraintName: 'iscsi_exports_client_id_fkey' })
  client?: Client;

  @Column({ type: 'integer' })
  tid: number;

  @Column({ name: 'target_iqn', type: 'varchar', length: 223 })
  targetIqn: string;

  @Column({ name: 'initiator_iqn', type: 'varchar', length: 223 })
  initiatorIqn: string;

  @Column({ name: 'backing_path', type: 'text' })
  backingPath: string;

  @Column({ name: 'chap_user', type: 'varchar', length: 64 })
  chapUser: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
