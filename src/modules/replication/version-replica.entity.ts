import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { bigintNumber } from '@database/transformers';
import { DlsNode } from '../cluster';
import type { ImageSnapshot } from '../catalog';

export const REPLICA_STATES = ['copying', 'verifying', 'verified', 'failed'] as const;
export type ReplicaState = (typeof REPLICA_STATES)[number];

/**
 * Where a version's content is, node by node (table `version_replicas`). The node that made the version holds it
 * `verified` from the start; every other node pulls it from a node that holds it (`copying`), checks the bytes against
 * the sha256 recorded when the version was made (`verifying`), and only then may boot clients from it (`verified`).
 * A `failed` copy is retried after a pause, its `error` saying why.
 */
@Entity('version_replicas')
@Index('idx_version_replicas_node_id', ['nodeId'])
@Check('version_replicas_state_check', `"state" IN ('copying', 'verifying', 'verified', 'failed')`)
export class VersionReplica {
  @PrimaryColumn({ name: 'version_id', type: 'uuid', primaryKeyConstraintName: 'version_replicas_pkey' })
  versionId: string;

  @ManyToOne('ImageSnapshot', { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'version_id', foreignKeyConstraintName: 'version_replicas_version_id_fkey' })
  version?: ImageSnapshot;

  @PrimaryColumn({ name: 'node_id', type: 'uuid', primaryKeyConstraintName: 'version_replicas_pkey' })
  nodeId: string;

  @ManyToOne(() => DlsNode, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'node_id', foreignKeyConstraintName: 'version_replicas_node_id_fkey' })
  node?: DlsNode;

  @Column({ type: 'varchar', length: 10 })
  state: ReplicaState;

  /** The node it was copied from; null on the node that made the version. */
  @Column({ name: 'source_node_id', type: 'uuid', nullable: true })
  sourceNodeId: string | null;

  /** How it came: `local` (made here), `raw` (the file), `zfs-full` or `zfs-incremental` (a ZFS stream). */
  @Column({ type: 'varchar', length: 20 })
  method: string;

  /** The version an incremental stream was relative to. */
  @Column({ name: 'base_version_id', type: 'uuid', nullable: true })
  baseVersionId: string | null;

  /** Bytes received so far (the whole stream once copied). */
  @Column({ name: 'bytes_copied', type: 'bigint', default: 0, transformer: bigintNumber })
  bytesCopied: number;

  /** The sha256 of the bytes this node holds, once checked. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  sha256: string | null;

  @Column({ type: 'text', nullable: true })
  error: string | null;

  @Column({ type: 'integer', default: 0 })
  attempts: number;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt: Date | null;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt: Date | null;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt: Date;
}
