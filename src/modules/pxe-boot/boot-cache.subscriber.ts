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
import { Client, ClientDisk, ClientGroup, Image, ImageSnapshot } from '../catalog';
import { IscsiExport } from '../iscsi';
import { BootPreparation } from './boot-preparation.service';

/** Client columns a boot's preparation does not depend on: a session reaching `running` bumps these. */
const BOOT_NEUTRAL_CLIENT_COLUMNS = new Set(['bootCount', 'lastBootAt', 'updatedAt', 'version']);

type AnyEvent = InsertEvent<unknown> | UpdateEvent<unknown> | RemoveEvent<unknown>;

/**
 * Keeps the boot script route's memory ({@link BootPreparation}: each client's prepared disk and export, and the
 * boot target its script is rendered from) current: a change to a client or its disk or export drops that client's
 * entry; a change to a group, an image or a version drops them all (they are few and rarely edited; the next script
 * request prepares again, which finds the disk and export in place when nothing that matters moved). Changes made
 * with raw SQL are not seen; the catalogue writes these tables through TypeORM.
 */
@Injectable()
export class BootCacheSubscriber implements EntitySubscriberInterface {
  /** What was dropped inside a transaction still open (some clients, or all): dropped once more when it commits. */
  private readonly inTransaction = new TransactionChanges<string>();

  constructor(
    @InjectDataSource() dataSource: DataSource,
    private readonly preparation: BootPreparation,
  ) {
    dataSource.subscribers.push(this);
  }

  afterInsert(e: InsertEvent<unknown>): void {
    this.changed(e, 'insert');
  }

  afterUpdate(e: UpdateEvent<unknown>): void {
    this.changed(e, 'update');
  }

  afterRemove(e: RemoveEvent<unknown>): void {
    this.changed(e, 'remove');
  }

  /** A preparation that read between a change and its commit saw the old rows: drop once more after the commit. */
  afterTransactionCommit(e?: TransactionCommitEvent): void {
    const changed = this.inTransaction.end(e?.queryRunner);
    if (changed === 'all') this.preparation.invalidate();
    else for (const id of changed ?? []) this.preparation.invalidate(id);
  }

  /** Rolled back: the rows are as they were, so what a preparation read meanwhile stands; forget the transaction. */
  afterTransactionRollback(e?: TransactionRollbackEvent): void {
    this.inTransaction.end(e?.queryRunner);
  }

  private changed(e: AnyEvent, kind: 'insert' | 'update' | 'remove'): void {
    const target = e.metadata.target;
    const entity = (e.entity ?? (e as RemoveEvent<unknown>).databaseEntity) as Record<string, unknown> | undefined;
    if (target === Client) {
      const id = (entity?.id ?? (e as RemoveEvent<unknown>).entityId) as string | undefined;
      if (typeof id === 'string') return this.drop(id, e.queryRunner);
      // A query-builder update carries the values it set, not the row: only boot-neutral columns leave us alone.
      if (entity && Object.keys(entity).every((k) => BOOT_NEUTRAL_CLIENT_COLUMNS.has(k))) return;
      return this.dropAll(e.queryRunner);
    }
    if (target === ClientDisk || target === IscsiExport) {
      // Their inserts and updates are a preparation's own steps (that preparation keeps its result); what undoes a
      // prepared boot is a disk or export that goes (reset, destroy, another version).
      if (kind !== 'remove') return;
      const id = entity?.clientId;
      return typeof id === 'string' ? this.drop(id, e.queryRunner) : this.dropAll(e.queryRunner);
    }
    if (target === ClientGroup || target === Image || target === ImageSnapshot) this.dropAll(e.queryRunner);
  }

  private drop(clientId: string, runner: QueryRunner | undefined): void {
    this.preparation.invalidate(clientId);
    this.inTransaction.note(runner, [clientId]);
  }

  private dropAll(runner: QueryRunner | undefined): void {
    this.preparation.invalidate();
    this.inTransaction.note(runner, 'all');
  }
}
