import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, EntityManager, Not, Repository } from 'typeorm';
import { ConflictError, NotFoundError, ValidationError } from '@common/errors/domain-error';
import { cidrOverlapMessage, isExclusionViolation, pgErrorDetail } from '@common/errors/pg-errors';
import { Page } from '@common/pagination';
import { parseSort, prefixPattern } from '@common/list-query';
import { ListNetworkRangesQueryDto, RANGE_SORT } from './dto/list-network-ranges.query.dto';
import { CreateNetworkRangeDto } from './dto/create-network-range.dto';
import { UpdateNetworkRangeDto } from './dto/update-network-range.dto';
import { cidrBroadcast, cidrContains, formatIpv4, parseCidr, parseIpv4 } from '@common/net/ipv4';
import { NetworkRange } from './network-range.entity';
import { NetworkRangeErrorCode } from './network-ranges.errors';

/**
 * Serialises range writes (transaction-scoped advisory lock). The exclusion constraint alone keeps overlapping CIDRs
 * out, but two transactions inserting overlapping rows at once each wait for the other's index entry and PostgreSQL
 * aborts one with "deadlock detected"; taken first, this lock lets each write see the committed ranges before it.
 */
const RANGE_WRITE_LOCK_SQL = `SELECT pg_advisory_xact_lock(hashtext('dls:network-ranges:write'))`;
const CIDR_EXCLUSION = 'network_ranges_cidr_excl';

const NOT_NULL_FIELDS = ['name', 'cidr', 'dnsServers', 'dhcpMode', 'leaseSeconds', 'unknownClientPolicy', 'enabled'] as const;

/** The fields that are checked together once a create or a patch is applied. */
type RangeShape = Pick<NetworkRange, 'cidr' | 'gateway' | 'poolStart' | 'poolEnd' | 'nextServer'>;

/**
 * Boot networks. Rules checked here with 400s naming the field (the database CHECK and exclusion constraints are
 * the backstop): poolStart/poolEnd both or neither, inside the CIDR, start <= end, the pool holding neither the
 * network nor the broadcast address nor the gateway; gateway a host address inside the CIDR; no two ranges overlap
 * (409 naming the other range). The DTO keeps special-purpose blocks (loopback, multicast, …) out.
 */
@Injectable()
export class NetworkRangesService {
  constructor(
    @InjectRepository(NetworkRange) private readonly ranges: Repository<NetworkRange>,
    @InjectDataSource() private readonly ds: DataSource,
  ) {}

  async list(q: ListNetworkRangesQueryDto): Promise<Page<NetworkRange>> {
    const qb = this.ranges.createQueryBuilder('r');
    if (q.q !== undefined) qb.andWhere('lower(r.name) LIKE :qp', { qp: prefixPattern(q.q.toLowerCase()) });
    const sort = parseSort(q.sort, RANGE_SORT) ?? { column: RANGE_SORT.cidr, direction: 'ASC' };
    qb.orderBy(sort.column, sort.direction).addOrderBy('r.id', 'ASC').take(q.limit).skip(q.offset);
    const [items, total] = await qb.getManyAndCount();
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
    return overlapAs409(
      this.ds.transaction(async (m) => {
        await m.query(RANGE_WRITE_LOCK_SQL);
        await assertNoOverlap(m, entity.cidr);
        return m.save(entity);
      }),
    );
  }

  async update(id: string, dto: UpdateNetworkRangeDto): Promise<NetworkRange> {
    for (const f of NOT_NULL_FIELDS) {
      if (dto[f] === null) throw new ValidationError(NetworkRangeErrorCode.FIELD_NOT_NULLABLE, `${f} may not be null`, { field: f });
    }
    return overlapAs409(
      this.ds.transaction(async (m) => {
        if (dto.cidr !== undefined) await m.query(RANGE_WRITE_LOCK_SQL); // before the row lock, as in create: one lock order
        const r = await m.findOne(NetworkRange, { where: { id }, lock: { mode: 'pessimistic_write' } });
        if (!r) throw new NotFoundError('network range', id, NetworkRangeErrorCode.NETWORK_RANGE_NOT_FOUND);
        const patch: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(dto)) if (v !== undefined) patch[k] = v;
        m.merge(NetworkRange, r, patch);
        validateShape(r);
        if (dto.cidr !== undefined) await assertNoOverlap(m, r.cidr, id);
        return m.save(r);
      }),
    );
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
  // RFC 3021: a /31 has no network or broadcast address; a /32 is one host.
  const network = cidr.prefix <= 30 ? cidr.network : null;
  const broadcast = cidr.prefix <= 30 ? cidrBroadcast(cidr) : null;
  const gateway = r.gateway ? parseIpv4(r.gateway)! : null;
  if (gateway !== null && gateway === network)
    problems.push({ field: 'gateway', message: `gateway ${r.gateway} is the network address of ${r.cidr}` });
  if (gateway !== null && gateway === broadcast)
    problems.push({ field: 'gateway', message: `gateway ${r.gateway} is the broadcast address of ${r.cidr}` });
  if (r.poolStart && r.poolEnd) {
    const start = parseIpv4(r.poolStart)!;
    const end = parseIpv4(r.poolEnd)!;
    const pool = `the pool ${r.poolStart}-${r.poolEnd}`;
    if (start > end) {
      problems.push({ field: 'poolEnd', message: `poolEnd ${r.poolEnd} is below poolStart ${r.poolStart}` });
    } else {
      const inPool = (a: number | null) => a !== null && start <= a && a <= end;
      if (inPool(network)) problems.push({ field: 'poolStart', message: `${pool} includes the network address ${formatIpv4(network!)}` });
      if (inPool(broadcast)) problems.push({ field: 'poolEnd', message: `${pool} includes the broadcast address ${formatIpv4(broadcast!)}` });
      if (inPool(gateway)) problems.push({ field: 'gateway', message: `${pool} includes the gateway ${r.gateway}` });
    }
  }
  if (problems.length) {
    throw new ValidationError(NetworkRangeErrorCode.NETWORK_RANGE_INVALID, problems.map((p) => p.message).join('; '), {
      fields: problems,
    });
  }
}

/** The exclusion constraint's verdict (a write that bypassed the lock, or a range changed outside DLS) as the same 409. */
async function overlapAs409<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (!isExclusionViolation(err, CIDR_EXCLUSION)) throw err;
    throw new ConflictError(NetworkRangeErrorCode.NETWORK_RANGE_OVERLAP, cidrOverlapMessage(pgErrorDetail(err)), { field: 'cidr' });
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
