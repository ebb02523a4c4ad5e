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
import { ClientDirectory } from '../boot-policy/client-directory';
import { ClientGroup } from './client-group.entity';
import { ClientGroupDirectory } from './client-group-directory';

/**
 * Any insert, update or delete of a client group drops the group cache and the boot policy's MAC cache (whose
 * entries hold settings inherited from groups), so the next boot decision sees the change.
 */
@Injectable()
export class ClientGroupChangeSubscriber implements EntitySubscriberInterface<ClientGroup> {
  constructor(
    @InjectDataSource() dataSource: DataSource,
    private readonly groups: ClientGroupDirectory,
    private readonly clients: ClientDirectory,
  ) {
    dataSource.subscribers.push(this);
  }

  listenTo(): typeof ClientGroup {
    return ClientGroup;
  }

  afterInsert(e?: InsertEvent<ClientGroup>): void {
    this.forget(e?.queryRunner);
  }
  afterUpdate(e?: UpdateEvent<ClientGroup>): void {
    this.forget(e?.queryRunner);
  }
  afterRemove(e?: RemoveEvent<ClientGroup>): void {
    this.forget(e?.queryRunner);
  }
  /**
   * A cache load that ran between the change and its commit read the old rows: drop once more when the transaction
   * that made the change commits (its outermost commit, not another transaction's).
   */
  afterTransactionCommit(e?: TransactionCommitEvent): void {
    if (!this.inTransaction.end(e?.queryRunner)) return;
    this.groups.invalidate();
    this.clients.invalidate();
  }
  afterTransactionRollback(e?: TransactionRollbackEvent): void {
    this.inTransaction.end(e?.queryRunner);
  }

  /** Transactions still open that changed a group. */
  private readonly inTransaction = new TransactionChanges<never>();

  private forget(runner: QueryRunner | undefined): void {
    this.inTransaction.note(runner, 'all');
    this.groups.invalidate();
    this.clients.invalidate();
  }
}
