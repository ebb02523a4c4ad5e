import { SelectQueryBuilder } from 'typeorm';
import type { Client } from './client.entity';

/** `LIKE` pattern for "starts with `text`" (wildcards in `text` escaped; `\` is PostgreSQL's default LIKE escape). */
export function prefixPattern(text: string): string {
  return `${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * `q` on clients: hostname prefix (case-insensitive), MAC prefix (any case; `:`/`-` as typed), or the name prefix
 * of the client's own assigned image. Served by `lower(hostname) text_pattern_ops`, `mac_address text_pattern_ops`
 * and `lower(images.name) text_pattern_ops` indexes.
 */
export function applyClientSearch(qb: SelectQueryBuilder<Client>, alias: string, q: string | undefined): void {
  if (q === undefined || q === '') return;
  const p = prefixPattern(q.toLowerCase());
  qb.andWhere(
    `(lower(${alias}.hostname) LIKE :qp OR ${alias}.mac_address LIKE :qmac OR ${alias}.assigned_image_id IN (SELECT i.id FROM images i WHERE lower(i.name) LIKE :qp))`,
    { qp: p, qmac: prefixPattern(q.toLowerCase().replace(/-/g, ':')) },
  );
}
