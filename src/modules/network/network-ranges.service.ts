import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, EntityManager, Not, Repository } from 'typeorm';
import { ConflictError, NotFoundError, ValidationError } from '@common/errors/domain-error';
import { Page } from '@common/pagination';
import { CreateNetworkRangeDto } from './dto/create-network-range.dto';
import { UpdateNetworkRangeDto } from './dto/update-network-range.dto';
import { cidrContains, parseCidr, parseIpv4 } from '@common/net/ipv4';
import { NetworkRange } from './network-range.entity';
import { NetworkRangeErrorCode } from './network-ranges.errors';

const NOT_NULL_FIELDS = ['name', 'cidr', 'dnsServers', 'dhcpMode', 'leaseSeconds', 'unknownClientPolicy', 'enabled'] as const;

/** The fields that are checked together once a create or a patch is applied. */
type RangeShape = Pick<NetworkRange, 'cidr' | 'gateway' | 'poolStart' | 'poolEnd' | 'nextServer'>;

/**
 * Boot networks. Rules checked here with 400s naming the field (the database CHECK and exclusion constraints are
 * the backstop): poolStart/poolEnd both or neither, inside the CIDR, start <= end; gateway inside the CIDR; no two
 * ranges overlap (409 naming the other range).
 */
@Injectable()
export class NetworkRangesService {
  constructor(
    @InjectRepository(NetworkRange) private readonly ranges: Repository<NetworkRange>,
    @InjectDataSource() private readonly ds: DataSource,
  ) {}

  async list(page: { limit: number; offset: number }): Promise<Page<NetworkRange>> {
    const [items, total] = await this.ranges.findAndCount({ order: { cidr: 'ASC', id: 'ASC' }, take: page.limit, skip: page.offset });
    return { items, total };
  }

  /** Enabled ranges the boot plane serves (dhcp_mode full or proxy, not off), by name: for the DHCP server. */
  async listEnabled(): Promise<NetworkRange[]> {
    return this.ranges.find({ where: { enabled: true, dhcpMode: Not('off') }, order: { name: 'ASC' } });
  }

  async get(id: string): Promise<NetworkRange> {
    const r = await this.ranges.findOne({ where: { id } });
    if (!r) throw new NotFoundError('network range', id, NetworkRangeErrorCode.NETWORK_RANGE_NOT_FOUND);
    return r;
  }

  async create(dto: CreateNetworkRangeDto): Promise<NetworkRange> {
    const entity = this.ranges.create({
      name: dto.name,
      cidr: dto.cidr,
      gateway: dto.gateway ?? null,
      dnsServers: dto.dnsServers ?? [],
      dhcpMode: dto.dhcpMode ?? 'full',
      poolStart: dto.poolStart ?? null,
      poolEnd: dto.poolEnd ?? null,
      leaseSeconds: dto.leaseSeconds ?? 3600,
      nextServer: dto.nextServer ?? null,
      interface: dto.interface ?? null,
      unknownClientPolicy: dto.unknownClientPolicy ?? 'ignore',
      enabled: dto.enabled ?? true,
    });
    validateShape(entity);
    return this.ds.transaction(async (m) => {
      await assertNoOverlap(m, entity.cidr);
      return m.save(entity);
    });
  }

  async update(id: string, dto: UpdateNetworkRangeDto): Promise<NetworkRange> {
    for (const f of NOT_NULL_FIELDS) {
      if (dto[f] === null) throw new ValidationError(NetworkRangeErrorCode.FIELD_NOT_NULLABLE, `${f} may not be null`, { field: f });
    }
    return this.ds.transaction(async (m) => {
      const r = await m.findOne(NetworkRange, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!r) throw new NotFoundError('network range', id, NetworkRangeErrorCode.NETWORK_RANGE_NOT_FOUND);
      const patch: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(dto)) if (v !== undefined) patch[k] = v;
      m.merge(NetworkRange, r, patch);
      validateShape(r);
      if (dto.cidr !== undefined) await assertNoOverlap(m, r.cidr, id);
      return m.save(r);
    });
  }

  async remove(id: string): Promise<void> {
    const r = await this.ranges.delete({ id });
    if (!r.affected) throw new NotFoundError('network range', id, NetworkRangeErrorCode.NETWORK_RANGE_NOT_FOUND);
  }
}

/** Cross-field rules; throws one 400 listing every problem, each naming its field. */
function validateShape(r: RangeShape): void {
  const problems: { field: string; message: string }[] = [];
  const cidr = parseCidr(r.cidr)!;
  const inside = (field: 'gateway' | 'poolStart' | 'poolEnd', value: string | null) => {
    if (value && !cidrContains(cidr, parseIpv4(value)!)) problems.push({ field, message: `${field} ${value} is outside ${r.cidr}` });
  };
  if ((r.poolStart === null) !== (r.poolEnd === null)) {
    const missing = r.poolStart === null ? 'poolStart' : 'poolEnd';
    problems.push({
      field: missing,
      message: `${missing} is required when ${missing === 'poolStart' ? 'poolEnd' : 'poolStart'} is set (give both or neither)`,
    });
  }
  inside('gateway', r.gateway);
  inside('poolStart', r.poolStart);
  inside('poolEnd', r.poolEnd);
  if (r.poolStart && r.poolEnd && parseIpv4(r.poolStart)! > parseIpv4(r.poolEnd)!) {
    problems.push({ field: 'poolEnd', message: `poolEnd ${r.poolEnd} is below poolStart ${r.poolStart}` });
  }
  if (problems.length) {
    throw new ValidationError(NetworkRangeErrorCode.NETWORK_RANGE_INVALID, problems.map((p) => p.message).join('; '), {
      fields: problems,
    });
  }
}

async function assertNoOverlap(m: EntityManager, cidr: string, exceptId?: string): Promise<void> {
  const rows: { id: string; name: string; cidr: string }[] = await m.query(
    'SELECT id, name, cidr::text AS cidr FROM network_ranges WHERE cidr && $1::cidr AND ($2::uuid IS NULL OR id <> $2::uuid) ORDER BY cidr LIMIT 1',
    [cidr, exceptId ?? null],
  );
  if (rows.length) {
    const o = rows[0];
    throw new ConflictError(NetworkRangeErrorCode.NETWORK_RANGE_OVERLAP, `cidr ${cidr} overlaps network range "${o.name}" (${o.cidr})`, {
      field: 'cidr',
      overlapsId: o.id,
      overlapsName: o.name,
      overlapsCidr: o.cidr,
    });
  }
}
