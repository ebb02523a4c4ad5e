import { Repository } from 'typeorm';
import { Role } from '@common/auth/role';
import { PrincipalCache } from './principal-cache.service';
import { User } from './user.entity';

describe('PrincipalCache', () => {
  const row = (tokenGeneration: number) => ({ id: 'u1', enabled: true, role: Role.Admin, username: 'alice', tokenGeneration }) as User;

  it('reads a user once, then answers from memory until invalidated', async () => {
    let generation = 0;
    const findOne = jest.fn(async () => row(generation));
    const cache = new PrincipalCache({ findOne } as unknown as Repository<User>);
    expect(await cache.get('u1')).toEqual({ enabled: true, role: Role.Admin, username: 'alice', tokenGeneration: 0 });
    await cache.get('u1');
    expect(findOne).toHaveBeenCalledTimes(1);
    generation = 1;
    cache.invalidate('u1');
    expect((await cache.get('u1'))?.tokenGeneration).toBe(1);
    expect(findOne).toHaveBeenCalledTimes(2);
  });

  it('does not cache a read that overlapped an invalidation (it may predate the change)', async () => {
    let release!: (u: User) => void;
    const findOne = jest.fn(() => new Promise<User>((r) => (release = r)));
    const cache = new PrincipalCache({ findOne } as unknown as Repository<User>);
    const pending = cache.get('u1');
    cache.invalidate('u1'); // e.g. a logout committed while the row was being read
    release(row(0));
    expect((await pending)?.tokenGeneration).toBe(0);
    findOne.mockImplementation(async () => row(1));
    expect((await cache.get('u1'))?.tokenGeneration).toBe(1);
    expect(findOne).toHaveBeenCalledTimes(2);
  });
});
