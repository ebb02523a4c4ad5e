import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { NetworkRange } from '../network';
import { DlsNode } from './node.entity';

/**
 * Which node answers DHCP for a network range: a lease on the row, in the database's clock. The holder renews it
 * every fifth of `DLS_NODE_LEASE`; another node may take it only once `expires_at` has passed (or the holder handed it
 * back on shutdown). `epoch` counts the hand-overs, so a holder can tell its hold from a later one.
 */
@Entity('range_owners')
@Index('idx_range_owners_node_id', ['nodeId'])
export class RangeOwner {
  @PrimaryColumn({ name: 'range_id', type: 'uuid', primaryKeyConstraintName: 'range_owners_pkey' })
  rangeId: string;

  @ManyToOne('NetworkRange', { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'range_id', foreignKeyConstraintName: 'range_owners_range_id_fkey' })
  range?: NetworkRange;

  @Column({ name: 'node_id', type: 'uuid' })
  nodeId: string;

  @ManyToOne(() => DlsNode, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'node_id', foreignKeyConstraintName: 'range_owners_node_id_fkey' })
  node?: DlsNode;

  @Column({ type: 'bigint', default: 1 })
  epoch: string;

  @Column({ name: 'acquired_at', type: 'timestamptz' })
  acquiredAt: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;
}
