import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique, UpdateDateColumn } from 'typeorm';
import type { Client } from '../catalog';
import type { NetworkRange } from '../network';

export const LEASE_STATES = ['offered', 'bound', 'declined', 'released'] as const;
export type LeaseState = (typeof LEASE_STATES)[number];

/** A DHCP lease in a `full`-mode range (RFC 2131 §4.3). Persisted so leases survive restarts. */
@Entity('dhcp_leases')
@Unique('dhcp_leases_ip_key', ['ip'])
@Check('dhcp_leases_state_check', `"state" IN ('offered', 'bound', 'declined', 'released')`)
@Index('idx_dhcp_leases_expires_at', ['expiresAt'])
/** One live lease per MAC and range; quarantined (declined) addresses don't count. */
@Index('uq_dhcp_leases_range_mac', ['rangeId', 'mac'], { unique: true, where: `"state" <> 'declined'` })
export class DhcpLease {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'range_id', type: 'uuid' })
  rangeId: string;

  // Targets by name: type-only imports keep other modules' indexes out of the entities' load order.
  @ManyToOne('NetworkRange', { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'range_id', foreignKeyConstraintName: 'dhcp_leases_range_id_fkey' })
  range?: NetworkRange;

  @Column({ type: 'inet' })
  ip: string;

  /** Canonical lower-case MAC; for a DECLINEd address, the MAC that declined it. */
  @Column({ type: 'varchar', length: 17 })
  mac: string;

  @Column({ name: 'client_id', type: 'uuid', nullable: true })
  clientId: string | null;

  @ManyToOne('Client', { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'client_id', foreignKeyConstraintName: 'dhcp_leases_client_id_fkey' })
  client?: Client | null;

  @Column({ type: 'varchar', length: 10 })
  state: LeaseState;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  @Column({ type: 'varchar', length: 255, nullable: true })
  hostname: string | null;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
