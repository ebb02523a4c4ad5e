import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntitySubscriberInterface } from 'typeorm';
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

  afterInsert(): void {
    this.forget();
  }
  afterUpdate(): void {
    this.forget();
  }
  afterRemove(): void {
    this.forget();
  }
  /** A cache load that ran between the change and its commit read the old rows: drop once more after commit. */
  afterTransactionCommit(): void {
    if (!this.dirty) return;
    this.dirty = false;
    this.groups.invalidate();
    this.clients.invalidate();
  }

  private dirty = false;

  private forget(): void {
    this.dirty = true;
    this.groups.invalidate();
    this.clients.invalidate();
  }
}
