import { Inject, Injectable, OnModuleInit, Optional } from '@nestjs/common';
import { ReadinessRegistry } from '../health';
import type { StorageDriver } from './storage-driver';
import { STORAGE_DRIVER } from './storage.tokens';

/** Reports the storage driver's own `status()` as the `storage` part of `/health/ready`. */
@Injectable()
export class StorageReadiness implements OnModuleInit {
  constructor(
    @Inject(STORAGE_DRIVER) private readonly driver: StorageDriver,
    @Optional() private readonly registry?: ReadinessRegistry,
  ) {}

  onModuleInit(): void {
    this.registry?.register('storage', async () => {
      const s = await this.driver.status();
      return {
        up: s.healthy,
        detail: { driver: s.driver, root: s.root, freeBytes: s.freeBytes, ...(s.detail ? { detail: s.detail } : {}) },
      };
    });
  }
}
