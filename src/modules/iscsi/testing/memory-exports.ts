/**
 * In-memory stand-ins for what IscsiExportsService reads and writes besides tgt: the `iscsi_exports` repository
 * (with the table's unique constraints, and a tid query answered a tick later so concurrent allocations race as they
 * would in PostgreSQL) and the catalogue's open boot sessions (the per-boot CHAP nonces). For specs and tgt
 * integration tests that run the service without a database.
 */
import { QueryFailedError, Repository } from 'typeorm';
import type { IscsiExport } from '../iscsi-export.entity';
import type { OpenBootSessions } from '../iscsi-export.types';

export class MemoryExports implements OpenBootSessions {
  readonly rows = new Map<string, IscsiExport>();
  /** clientId → id of its open boot session. */
  readonly openSessions = new Map<string, string>();

  /** This fake as the repository the service injects. */
  asRepository(): Repository<IscsiExport> {
    return this as unknown as Repository<IscsiExport>;
  }

  async openSessionIds(clientId?: string): Promise<Map<string, string>> {
    return new Map([...this.openSessions].filter(([c]) => !clientId || c === clientId));
  }

  async find(): Promise<IscsiExport[]> {
    return [...this.rows.values()].map((r) => ({ ...r }));
  }

  async findOne(o: { where: { clientId: string } }): Promise<IscsiExport | null> {
    const r = this.rows.get(o.where.clientId);
    return r ? { ...r } : null;
  }

  async update(where: { clientId: string }, patch: Partial<IscsiExport>): Promise<void> {
    const r = this.rows.get(where.clientId);
    if (r) Object.assign(r, patch);
  }

  async delete(where: { clientId: string }): Promise<void> {
    this.rows.delete(where.clientId);
  }

  /** The tid allocation query, the only one the service runs. */
  async query(sql: string): Promise<Array<Record<string, unknown>>> {
    if (!/MAX\(tid\)/.test(sql)) throw new Error(`unexpected query ${sql}`);
    const next = Math.max(0, ...[...this.rows.values()].map((r) => r.tid)) + 1;
    await new Promise((r) => setImmediate(r));
    return [{ next }];
  }

  create(fields: Partial<IscsiExport>): IscsiExport {
    return { ...fields } as IscsiExport;
  }

  async save(row: IscsiExport): Promise<IscsiExport> {
    for (const [key, constraint] of [
      ['tid', 'iscsi_exports_tid_key'],
      ['targetIqn', 'iscsi_exports_target_iqn_key'],
    ] as const) {
      if ([...this.rows.values()].some((r) => r.clientId !== row.clientId && r[key] === row[key])) {
        throw new QueryFailedError('INSERT', [], Object.assign(new Error('duplicate key'), { code: '23505', constraint }));
      }
    }
    this.rows.set(row.clientId, { ...row });
    return { ...row };
  }
}
