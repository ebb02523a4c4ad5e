import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  DataSource,
  EntitySubscriberInterface,
  InsertEvent,
  QueryRunner,
  RemoveEvent,
  TransactionCommitEvent,
  TransactionRollbackEvent,
  UpdateEvent,
} from 'typeorm';
import { TransactionChanges } from '@common/concurrency/transaction-changes';
import { Client } from '../clients/client.entity';
import { ClientDirectory, touchesBootFacts } from './client-directory';

/** The MACs a transaction changed, or `all` when an event did not say which. */
type Changed = Set<string> | 'all';

/**
 * Keeps the DHCP server's client index current: any insert, update or delete of a client (through the API, a bulk
 * import, a bulk action) marks the MAC changed at once — or the whole index when the event doesn't say which MAC
 * (query-builder updates and deletes) — so a disabled or re-imaged client is never served stale boot facts. Updates
 * that touch no boot fact (a boot-count bump) are ignored. Inside a transaction the index re-reads what changed
 * again after the commit (a read before it saw the old row).
 */
@Injectable()
export class ClientChangeSubscriber implements EntitySubscriberInterface<Client> {
  private readonly inTransaction = new TransactionChanges<string>();

  constructor(
    @InjectDataSource() dataSource: DataSource,
    private readonly directory: ClientDirectory,
  ) {
    dataSource.subscribers.push(this);
  }

  listenTo(): typeof Client {
    return Client;
  }

  afterInsert(e: InsertEvent<Client>): void {
    this.forget(e.queryRunner, macOf(e.entity));
  }

  afterUpdate(e: UpdateEvent<Client>): void {
    const columns = e.updatedColumns?.length ? e.updatedColumns.map((c) => c.propertyName) : Object.keys(e.entity ?? {});
    if (!touchesBootFacts(columns)) return;
    this.forget(e.queryRunner, macOf(e.entity), macOf(e.databaseEntity));
  }

  afterRemove(e: RemoveEvent<Client>): void {
    this.forget(e.queryRunner, macOf(e.entity), macOf(e.databaseEntity));
  }

  /** The outermost transaction ended: what it changed is read again, now that it is committed (or rolled back). */
  afterTransactionCommit(e: TransactionCommitEvent): void {
    const changed = this.inTransaction.end(e.queryRunner);
    if (changed) this.tell(changed);
  }

  afterTransactionRollback(e: TransactionRollbackEvent): void {
    const changed = this.inTransaction.end(e.queryRunner);
    if (changed) this.tell(changed);
  }

  private forget(runner: QueryRunner | undefined, ...macs: (string | undefined)[]): void {
    const known = macs.filter((m): m is string => typeof m === 'string');
    const changed: Changed = known.length === 0 ? 'all' : new Set(known);
    this.tell(changed);
    this.inTransaction.note(runner, changed);
  }

  private tell(changed: Changed): void {
    if (changed === 'all') this.directory.invalidate();
    else for (const m of changed) this.directory.invalidate(m);
  }
}

/** The MAC of an event's entity, when the event carries one (query-builder events carry none). */
function macOf(entity: unknown): string | undefined {
  return (entity as Partial<Client> | undefined)?.macAddress;
}
