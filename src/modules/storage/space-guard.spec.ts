import type { AppConfig } from '@config/config.loader';
import type { StorageDriver, StorageStatus } from './storage-driver';
import { SpaceGuard } from './space-guard';

const MiB = 1024 * 1024;

function guard(freeBytes: () => number, minFreeBytes = 10 * MiB) {
  const status = jest.fn(async () => ({ freeBytes: freeBytes(), cloneMethod: 'copy' }) as unknown as StorageStatus);
  const driver = { status } as unknown as StorageDriver;
  const config = { storage: { minFreeBytes } } as unknown as AppConfig;
  return { g: new SpaceGuard(driver, config), status };
}

describe('SpaceGuard', () => {
  it('shares one answer a second among free writes (clones), so a boot storm costs one status call', async () => {
    const { g, status } = guard(() => 100 * MiB);
    await Promise.all(Array.from({ length: 50 }, () => g.ensure(0)));
    expect(status).toHaveBeenCalledTimes(1);
  });

  it('asks afresh for a write of real size: a copy made a moment ago is counted', async () => {
    let free = 100 * MiB;
    const { g } = guard(() => free);
    await g.ensure(0); // the shared answer: 100 MiB
    free = 20 * MiB; // a copy of 80 MiB has just been made
    await expect(g.ensure(15 * MiB)).rejects.toMatchObject({ code: 'INSUFFICIENT_STORAGE' });
    await expect(g.ensure(5 * MiB)).resolves.toBeUndefined();
  });

  it('refuses with the figures that decided it', async () => {
    const { g } = guard(() => 50 * MiB);
    await expect(g.ensure(45 * MiB)).rejects.toMatchObject({
      details: { freeBytes: 50 * MiB, neededBytes: 45 * MiB, minFreeBytes: 10 * MiB },
    });
  });
});
