import { InsertEvent, QueryRunner, RemoveEvent, TransactionCommitEvent, UpdateEvent } from 'typeorm';
import { Client } from '../clients/client.entity';
import { ClientChangeSubscriber } from './client-change.subscriber';

describe('ClientChangeSubscriber', () => {
  const setup = () => {
    const calls: (string | undefined)[] = [];
    const ds = { subscribers: [] as unknown[] };
    const sub = new ClientChangeSubscriber(ds as never, { invalidate: (mac?: string) => void calls.push(mac) } as never);
    return { sub, calls, ds };
  };

  it('registers itself with the data source for clients', () => {
    const { sub, ds } = setup();
    expect(ds.subscribers).toContain(sub);
    expect(sub.listenTo()).toBe(Client);
  });

  it('marks the MACs an event names (old and new on a MAC change)', () => {
    const { sub, calls } = setup();
    sub.afterInsert({ entity: { macAddress: '52:54:00:00:00:01' } } as InsertEvent<Client>);
    sub.afterUpdate({
      entity: { macAddress: '52:54:00:00:00:02' },
      databaseEntity: { macAddress: '52:54:00:00:00:03' },
      updatedColumns: [{ propertyName: 'macAddress' }],
    } as unknown as UpdateEvent<Client>);
    expect(calls).toEqual(['52:54:00:00:00:01', '52:54:00:00:00:02', '52:54:00:00:00:03']);
  });

  it('marks the whole index when the event does not say which client changed; ignores boot-count bumps', () => {
    const { sub, calls } = setup();
    sub.afterUpdate({ entity: { enabled: false }, updatedColumns: [] } as unknown as UpdateEvent<Client>);
    sub.afterRemove({ entity: undefined } as unknown as RemoveEvent<Client>);
    sub.afterUpdate({
      entity: { bootCount: () => 'boot_count + 1', lastBootAt: () => 'now()' },
      updatedColumns: [],
    } as unknown as UpdateEvent<Client>);
    expect(calls).toEqual([undefined, undefined]);
  });

  it('marks a change made in a transaction again once the outermost transaction committed', () => {
    const { sub, calls } = setup();
    const runner = { isTransactionActive: true } as QueryRunner;
    sub.afterInsert({ entity: { macAddress: '52:54:00:00:00:01' }, queryRunner: runner } as InsertEvent<Client>);
    sub.afterTransactionCommit({ queryRunner: runner } as TransactionCommitEvent); // a savepoint: still inside
    expect(calls).toEqual(['52:54:00:00:00:01']);
    (runner as { isTransactionActive: boolean }).isTransactionActive = false;
    sub.afterTransactionCommit({ queryRunner: runner } as TransactionCommitEvent);
    sub.afterTransactionCommit({ queryRunner: runner } as TransactionCommitEvent);
    expect(calls).toEqual(['52:54:00:00:00:01', '52:54:00:00:00:01']);
  });
});
