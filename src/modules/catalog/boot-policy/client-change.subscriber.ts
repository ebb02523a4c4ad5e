import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntitySubscriberInterface, InsertEvent, RemoveEvent, UpdateEvent } from 'typeorm';
import { Client } from '../clients/client.entity';
import { ClientDirectory } from './client-directory';

/**
 * Keeps the DHCP server's MAC cache honest: any insert, update or delete of a client (through the API, a bulk import
 * or a boot-count update) drops the cached entry at once — or the whole cache when the event doesn't say which MAC
 * (query-builder updates and deletes) — so a disabled or re-imaged client is never served stale boot facts.
 */
@Injectable()
export class ClientChangeSubscriber implements EntitySubscriberInterface<Client> {
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
    this.forget(macOf(e.entity));
  }

  afterUpdate(e: UpdateEvent<Client>): void {
    this.forget(macOf(e.entity), macOf(e.databaseEntity));
  }

  afterRemove(e: RemoveEvent<Client>): void {
    this.forget(macOf(e.entity), macOf(e.databaseEntity));
  }

  private forget(...macs: (string | undefined)[]): void {
    const known = macs.filter((m): m is string => typeof m === 'string');
    if (known.length === 0) this.directory.invalidate();
    else for (const m of known) this.directory.invalidate(m);
  }
}

/** The MAC of an event's entity, when the event carries one (query-builder events carry none). */
function macOf(entity: unknown): string | undefined {
  return (entity as Partial<Client> | undefined)?.macAddress;
}
