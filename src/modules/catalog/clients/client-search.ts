import { SelectQueryBuilder } from 'typeorm';
import { prefixPattern } from '@common/list-query';
import type { Client } from './client.entity';

/** Sortable fields of `GET /clients`. */
export const CLIENT_SORT = {
  hostname: 'c.hostname',
  macAddress: 'c.mac_address',
  ipAddress: 'c.ip_address',
  createdAt: 'c.created_at',
  updatedAt: 'c.updated_at',
  lastBootAt: 'c.last_boot_at',
  bootCount: 'c.boot_count',
} as const;

/**
 * `q` on clients: hostname prefix (case-insensitive), MAC prefix (any case; `:`/`-` as typed), or the name prefix
 * of the client's own assigned image. Served by `lower(hostname) text_pattern_ops`, `mac_address text_pattern_ops`
 * and `lower(images.name) text_pattern_ops` indexes.
 */
export function applyClientSearch(qb: SelectQueryBuilder<Client>, alias: string, q: string | undefined): void {
  if (q === undefined || q === '') return;
  const p = prefixPattern(q.toLowerCase());
  qb.andWhere(
    `(lower(${alias}.hostname) LIKE :qp OR ${alias}.mac_address LIKE :qmac OR ${alias}.assigned_image_id = ANY(ARRAY(SELECT i.id FROM images i WHERE lower(i.name) LIKE :qp)))`,
    { qp: p, qmac: prefixPattern(q.toLowerCase().replace(/-/g, ':')) },
  );
}
