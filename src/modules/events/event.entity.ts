import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { Role } from '@common/auth/role';

/**
 * One published event (table `events`): the resume window of the live stream. Rows are pruned to the newest
 * `DLS_EVENTS_MAX_COUNT` and the last `DLS_EVENTS_MAX_AGE`; the stream itself travels by NOTIFY.
 */
@Entity('events')
@Index('idx_events_at', ['at'])
export class DlsEvent {
  /** bigserial: the SSE `id`, increasing per commit order of the inserting statement. */
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id: string;

  @Column({ type: 'varchar', length: 64 })
  type: string;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  at: Date;

  /** The DLS node (process) that published it. */
  @Column({ type: 'varchar', length: 128 })
  node: string;

  /** Lowest role that may see it (audit entries: admin). */
  @Column({ name: 'min_role', type: 'varchar', length: 16, default: Role.Viewer })
  minRole: Role;

  @Column({ type: 'jsonb' })
  body: Record<string, unknown>;
}
