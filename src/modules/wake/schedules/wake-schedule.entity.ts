import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn, VersionColumn } from 'typeorm';
import type { ClientGroup } from '../../catalog';

/**
 * When a group is woken (table `wake_schedules`, owned by the wake module): a 5-field cron expression read in an IANA
 * time zone. `next_run_at` is the occurrence the runner fires next (null while disabled); the runner advances it in
 * the same transaction that claims the run, so a run is fired once whatever the number of DLS nodes.
 */
@Entity('wake_schedules')
@Index('idx_wake_schedules_group_id', ['groupId'])
@Index('idx_wake_schedules_next_run_at', ['nextRunAt'], { where: '"enabled"' })
export class WakeSchedule {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'group_id', type: 'uuid' })
  groupId: string;

  // Target by name: a type-only import keeps the catalogue's index out of the entities' load order.
  @ManyToOne('ClientGroup', { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'group_id', foreignKeyConstraintName: 'wake_schedules_group_id_fkey' })
  group?: ClientGroup;

  /** minute hour day-of-month month day-of-week */
  @Column({ type: 'varchar', length: 100 })
  cron: string;

  /** IANA zone the cron expression is read in. */
  @Column({ type: 'varchar', length: 64 })
  timezone: string;

  @Column({ type: 'boolean', default: true })
  enabled: boolean;

  @Column({ name: 'next_run_at', type: 'timestamptz', nullable: true })
  nextRunAt: Date | null;

  /** The occurrence last fired (or skipped as missed). */
  @Column({ name: 'last_run_at', type: 'timestamptz', nullable: true })
  lastRunAt: Date | null;

  /** Members woken at the last run, and how many of them could not be; null until a run finished. */
  @Column({ name: 'last_run_total', type: 'integer', nullable: true })
  lastRunTotal: number | null;

  @Column({ name: 'last_run_failed', type: 'integer', nullable: true })
  lastRunFailed: number | null;

  /** Row version: the ETag, checked against If-Match (the runner's claims move it too). */
  @VersionColumn({ type: 'integer', default: 1 })
  version: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
