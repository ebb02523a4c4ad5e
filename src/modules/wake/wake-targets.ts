import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { RangeEvidence, WakeRangeFacts } from './wake-range';

/** A client to wake, with what says where it lives. */
export interface WakeTarget {
  id: string;
  hostname: string;
  macAddress: string;
  evidence: RangeEvidence;
}

/**
 * Read-only queries behind Wake-on-LAN: who to wake and which range each client was last seen on. They read across
 * the tables that hold that evidence (clients and groups, DHCP leases, boot sessions, network ranges) and write
 * nothing; each owning module stays the only writer of its table.
 */
@Injectable()
export class WakeTargets {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /** The clients with these ids (unknown ids are left out), in hostname order, each with its range evidence. */
  async clients(ids: readonly string[]): Promise<WakeTarget[]> {
    if (!ids.length) return [];
    return this.query('c.id = ANY($1::uuid[])', [[...new Set(ids)]]);
  }

  /** The members of a group, in hostname order; null when the group does not exist. */
  async groupMembers(groupId: string): Promise<{ name: string; members: WakeTarget[] } | null> {
    const g: { name: string }[] = await this.ds.query('SELECT name FROM client_groups WHERE id = $1', [groupId]);
    if (!g.length) return null;
    return { name: g[0].name, members: await this.query('c.group_id = $1', [groupId]) };
  }

  /** The ranges with these ids, by id. */
  async ranges(ids: readonly string[]): Promise<Map<string, WakeRangeFacts>> {
    if (!ids.length) return new Map();
    const rows: { id: string; name: string; enabled: boolean; dhcp_mode: string; interface: string | null }[] = await this.ds.query(
      'SELECT id, name, enabled, dhcp_mode, interface FROM network_ranges WHERE id = ANY($1::uuid[])',
      [[...new Set(ids)]],
    );
    return new Map(rows.map((r) => [r.id, { id: r.id, name: r.name, enabled: r.enabled, dhcpMode: r.dhcp_mode, interface: r.interface }]));
  }

  private async query(where: string, params: unknown[]): Promise<WakeTarget[]> {
    const rows: {
      id: string;
      hostname: string;
      mac_address: string;
      reservation: string | null;
      lease: string | null;
      session: string | null;
      group_default: string | null;
    }[] = await this.ds.query(
      `SELECT c.id, c.hostname, c.mac_address,
              (SELECT r.id FROM network_ranges r WHERE c.ip_address <<= r.cidr LIMIT 1) AS reservation,
              (SELECT l.range_id FROM dhcp_leases l
                WHERE l.mac = c.mac_address AND l.state <> 'declined'
                ORDER BY l.updated_at DESC LIMIT 1) AS lease,
              (SELECT r.id FROM boot_sessions s JOIN network_ranges r ON s.client_ip <<= r.cidr
                WHERE s.client_id = c.id AND s.client_ip IS NOT NULL
                ORDER BY s.started_at DESC LIMIT 1) AS session,
              g.default_for_range_id AS group_default
         FROM clients c LEFT JOIN client_groups g ON g.id = c.group_id
        WHERE ${where}
        ORDER BY c.hostname, c.id`,
      params,
    );
    return rows.map((r) => ({
      id: r.id,
      hostname: r.hostname,
      macAddress: r.mac_address,
      evidence: { reservation: r.reservation, lease: r.lease, 'boot-session': r.session, 'group-default': r.group_default },
    }));
  }
}
