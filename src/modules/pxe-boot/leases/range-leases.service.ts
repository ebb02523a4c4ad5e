import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { parseIpv4 } from '@common/net/ipv4';
import { Page } from '@common/pagination';
import { NetworkRangesService } from '../../network';
import { DhcpLease } from '../dhcp-lease.entity';
import { LeaseDto, ListLeasesQueryDto, PoolUtilisationDto } from './dto/range-leases.dto';

/**
 * Read-only view of the `dhcp_leases` table this module owns, for operators: a range's leases and how full its pool
 * is. Writes stay with the DHCP server's lease service.
 */
@Injectable()
export class RangeLeasesService {
  constructor(
    @InjectRepository(DhcpLease) private readonly leases: Repository<DhcpLease>,
    private readonly ranges: NetworkRangesService,
  ) {}

  /** The range's leases by address; 404 for an unknown range. */
  async list(rangeId: string, q: ListLeasesQueryDto): Promise<Page<LeaseDto>> {
    await this.ranges.get(rangeId);
    const qb = this.leases
      .createQueryBuilder('l')
      .leftJoin('l.client', 'c')
      .addSelect(['c.id', 'c.hostname'])
      .where('l.range_id = :rangeId', { rangeId });
    if (q.state) qb.andWhere('l.state = :state', { state: q.state });
    qb.orderBy('l.ip', 'ASC').addOrderBy('l.id', 'ASC').take(q.limit).skip(q.offset);
    const [rows, total] = await qb.getManyAndCount();
    const now = Date.now();
    return {
      total,
      items: rows.map((l) => ({
        address: l.ip.replace(/\/32$/, ''),
        macAddress: l.mac,
        clientId: l.clientId,
        hostname: l.client?.hostname ?? l.hostname,
        state: l.state,
        expiresAt: l.expiresAt,
        active: (l.state === 'offered' || l.state === 'bound') && l.expiresAt.getTime() > now,
      })),
    };
  }

  /** Pool size, active leases and quarantined addresses inside the pool; 404 for an unknown range. */
  async utilisation(rangeId: string): Promise<PoolUtilisationDto> {
    const r = await this.ranges.get(rangeId);
    const start = r.poolStart ? parseIpv4(r.poolStart.replace(/\/32$/, '')) : null;
    const end = r.poolEnd ? parseIpv4(r.poolEnd.replace(/\/32$/, '')) : null;
    if (start === null || end === null || end < start) return { rangeId, size: 0, inUse: 0, quarantined: 0, free: 0 };
    const size = end - start + 1;
    const rows: { in_use: number; quarantined: number }[] = await this.leases.query(
      `SELECT count(*) FILTER (WHERE state IN ('offered', 'bound') AND expires_at > now())::int AS in_use,
              count(*) FILTER (WHERE state = 'declined' AND expires_at > now())::int AS quarantined
       FROM dhcp_leases WHERE range_id = $1 AND ip BETWEEN $2::inet AND $3::inet`,
      [rangeId, r.poolStart, r.poolEnd],
    );
    const { in_use: inUse, quarantined } = rows[0];
    return { rangeId, size, inUse, quarantined, free: Math.max(0, size - inUse - quarantined) };
  }
}
