import { Check, Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, Unique } from 'typeorm';

export const NODE_STATES = ['active', 'draining', 'stopped'] as const;
export type NodeState = (typeof NODE_STATES)[number];

/**
 * A DLS process sharing the database with others (`DLS_NODE_NAME`). It registers at start and beats every fifth of
 * `DLS_NODE_LEASE`; a node whose beat is older than the lease counts as down, and its ranges go to a standby.
 * `instance` tells a restart of the same install (same host and data directory) from a second process that took
 * the same name by mistake.
 */
@Entity('nodes')
@Unique('nodes_name_key', ['name'])
@Check('nodes_state_check', `"state" IN ('active', 'draining', 'stopped')`)
export class DlsNode {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'varchar', length: 100 })
  name: string;

  /** The host and data directory of the process that registered it (a hash: no path is published). */
  @Column({ type: 'varchar', length: 64 })
  instance: string;

  /** Its IPv4 addresses (boot networks and others), as it saw them at its last beat. */
  @Column({ type: 'text', array: true, default: () => "'{}'" })
  addresses: string[];

  /** Its HTTP port (the API and the boot scripts). */
  @Column({ name: 'http_port', type: 'integer' })
  httpPort: number;

  /** Clients it is sized to boot at once (`DLS_NODE_CAPACITY`). */
  @Column({ type: 'integer' })
  capacity: number;

  /** active: takes ranges; draining: takes none and hands its ranges over; stopped: shut down cleanly. */
  @Column({ type: 'varchar', length: 10, default: 'active' })
  state: NodeState;

  /** The DLS version it runs (not a row version: nodes are not edited through ETags). */
  @Column({ name: 'dls_version', type: 'varchar', length: 40 })
  dlsVersion: string;

  @Column({ name: 'started_at', type: 'timestamptz' })
  startedAt: Date;

  /** Its last heartbeat, in the database's clock (every node compares against the same clock). */
  @Column({ name: 'heartbeat_at', type: 'timestamptz' })
  heartbeatAt: Date;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
