import type { QueryRunner } from 'typeorm';
import { TransactionChanges } from './transaction-changes';

const runner = (active: boolean) => ({ isTransactionActive: active }) as { isTransactionActive: boolean } & QueryRunner;

describe('TransactionChanges', () => {
  it('collects the keys a transaction changed and hands them back once, at its outermost end', () => {
    const changes = new TransactionChanges<string>();
    const tx = runner(true);
    changes.note(tx, ['a']);
    changes.note(tx, new Set(['b', 'a']));
    expect(changes.end(tx)).toBeNull(); // a savepoint released: still in the transaction
    tx.isTransactionActive = false;
    expect(changes.end(tx)).toEqual(new Set(['a', 'b']));
    expect(changes.end(tx)).toBeNull(); // once
  });

  it('"all" absorbs keys, before or after; transactions are kept apart; nothing outside a transaction', () => {
    const changes = new TransactionChanges<string>();
    const one = runner(true);
    const two = runner(true);
    changes.note(one, ['a']);
    changes.note(one, 'all');
    changes.note(one, ['b']);
    changes.note(two, ['c']);
    changes.note(runner(false), ['d']);
    changes.note(undefined, 'all');
    one.isTransactionActive = two.isTransactionActive = false;
    expect(changes.end(one)).toBe('all');
    expect(changes.end(two)).toEqual(new Set(['c']));
    expect(changes.end(runner(false))).toBeNull();
    expect(changes.end(undefined)).toBeNull();
  });
});
