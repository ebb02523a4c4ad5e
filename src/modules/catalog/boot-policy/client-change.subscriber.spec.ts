import { InsertEvent, RemoveEvent, UpdateEvent } from 'typeorm';
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

  it('drops the entries of the MACs an event names (old and new on a MAC change)', () => {
    const { sub, calls } = setup();
    sub.afterInsert({ entity: { macAddress: '52:54:00:00:00:01' } } as InsertEvent<Client>);
    sub.afterUpdate({
      entity: { macAddress: '52:54:00:00:00:02' },
      databaseEntity: { macAddress: '52:54:00:00:00:03' },
    } as unknown as UpdateEvent<Client>);
    expect(calls).toEqual(['52:54:00:00:00:01', '52:54:00:00:00:02', '52:54:00:00:00:03']);
  });

  it('drops the whole cache when the event does not say which client changed', () => {
    const { sub, calls } = setup();
    sub.afterUpdate({ entity: { enabled: false } } as unknown as UpdateEvent<Client>);
    sub.afterRemove({ entity: undefined } as unknown as RemoveEvent<Client>);
    expect(calls).toEqual([undefined, undefined]);
  });
});
