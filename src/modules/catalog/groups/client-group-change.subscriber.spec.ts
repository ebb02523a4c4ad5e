import type { DataSource } from 'typeorm';
import type { ClientDirectory } from '../boot-policy/client-directory';
import { ClientGroupChangeSubscriber } from './client-group-change.subscriber';
import type { ClientGroupDirectory } from './client-group-directory';

function setup() {
  const told: string[] = [];
  const groups = { invalidate: () => void told.push('groups') } as unknown as ClientGroupDirectory;
  const clients = { invalidate: () => void told.push('clients') } as unknown as ClientDirectory;
  const ds = { subscribers: [] as unknown[] } as unknown as DataSource;
  const sub = new ClientGroupChangeSubscriber(ds, groups, clients);
  return { sub, told, ds };
}

describe('ClientGroupChangeSubscriber', () => {
  it('a group change drops the group cache and the client index at once, and again when its transaction commits', () => {
    const { sub, told, ds } = setup();
    expect(ds.subscribers).toContain(sub);
    const runner = { isTransactionActive: true };
    sub.afterUpdate({ queryRunner: runner } as never);
    expect(told).toEqual(['groups', 'clients']);
    // Another transaction's commit, or a savepoint released inside this one, is not this change's commit.
    sub.afterTransactionCommit({ queryRunner: { isTransactionActive: false } } as never);
    sub.afterTransactionCommit({ queryRunner: runner } as never);
    expect(told).toHaveLength(2);
    runner.isTransactionActive = false;
    sub.afterTransactionCommit({ queryRunner: runner } as never);
    sub.afterTransactionCommit({ queryRunner: runner } as never); // once
    expect(told).toEqual(['groups', 'clients', 'groups', 'clients']);
  });

  it('a change outside a transaction, or in one rolled back, is not dropped again', () => {
    const { sub, told } = setup();
    sub.afterInsert({ queryRunner: { isTransactionActive: false } } as never);
    const rolled = { isTransactionActive: true };
    sub.afterRemove({ queryRunner: rolled } as never);
    rolled.isTransactionActive = false;
    sub.afterTransactionRollback({ queryRunner: rolled } as never);
    sub.afterTransactionCommit({ queryRunner: rolled } as never);
    expect(told).toEqual(['groups', 'clients', 'groups', 'clients']);
  });
});
