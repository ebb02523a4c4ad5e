import { Check, Column, CreateDateColumn, Entity, Exclusion, PrimaryGeneratedColumn, Unique, UpdateDateColumn, VersionColumn } from 'typeorm';

export const DHCP_MODES = ['full', 'proxy', 'off'] as const;
export type DhcpMode = (typeof DHCP_MODES)[number];
export const UNKNOWN_CLIENT_POLICIES = ['ignore', 'register'] as const;
export type UnknownClientPolicy = (typeof UNKNOWN_CLIENT_POLICIES)[number];

/** A boot network (table `network_ranges`). Ranges never overlap (exclusion constraint on `cidr`). */
@Entity('network_ranges')
@Unique('network_ranges_name_key', ['name'])
@Exclusion('network_ranges_cidr_excl', 'USING gist ("cidr" inet_ops WITH &&)')
@Check('network_ranges_dhcp_mode_check', `"dhcp_mode" IN ('full', 'proxy', 'off')`)
@Check('network_ranges_unknown_policy_check', `"unknown_client_policy" IN ('ignore', 'register')`)
@Check('network_ranges_lease_seconds_check', '"lease_seconds" > 0')
@Check(
  'network_ranges_pool_check',
  '("pool_start" IS NULL AND "pool_end" IS NULL) OR ("pool_start" <<= "cidr" AND "pool_end" <<= "cidr" AND "pool_start" <= "pool_end")',
)
export class NetworkRange {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'varchar', length: 100 })
  name: string;

  @Column({ type: 'cidr' })
  cidr: string;

  @Column({ type: 'inet', nullable: true })
  gateway: string | null;

  @Column({ name: 'dns_servers', type: 'inet', array: true, default: () => "'{}'" })
  dnsServers: string[];

  @Column({ name: 'dhcp_mode', type: 'varchar', length: 10, default: 'full' })
  dhcpMode: DhcpMode;

  @Column({ name: 'pool_start', type: 'inet', nullable: true })
  poolStart: string | null;

  @Column({ name: 'pool_end', type: 'inet', nullable: true })
  poolEnd: string | null;

  @Column({ name: 'lease_seconds', type: 'integer', default: 3600 })
  leaseSeconds: number;

  @Column({ name: 'next_server', type: 'inet', nullable: true })
  nextServer: string | null;

  @Column({ type: 'varchar', length: 15, nullable: true })
  interface: string | null;

  @Column({ name: 'unknown_client_policy', type: 'varchar', length: 10, default: 'ignore' })
  unknownClientPolicy: UnknownClientPolicy;

  @Column({ type: 'boolean', default: true })
  enabled: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  /** Row version, moved on by every write through TypeORM: the record's ETag (`"<version>"`, see common/etag). */
  @VersionColumn({ type: 'integer', default: 1 })
  version: number;
}
