import { Inject, Injectable } from '@nestjs/common';
import { AppConfig } from '@config/config.loader';
import { DomainError } from '@common/errors/domain-error';
import { storageCall } from './storage-domain-errors';
import type { StorageDriver, StorageStatus } from './storage-driver';
import { STORAGE_DRIVER } from './storage.tokens';

/** Refuses (507) any storage operation that would leave less than DLS_STORAGE_MIN_FREE. */
@Injectable()
export class SpaceGuard {
  /** status() costs a `zfs get` (~0.1 s on zfs-fuse): a boot storm shares one answer per second. */
  private cached?: { at: number; value: Promise<StorageStatus> };

  constructor(
    @Inject(STORAGE_DRIVER) private readonly driver: StorageDriver,
    private readonly config: AppConfig,
  ) {}

  private status(): Promise<StorageStatus> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > 1000) {
      const value = storageCall(() => this.driver.status());
      value.catch(() => (this.cached = undefined));
      this.cached = { at: now, value };
    }
    return this.cached.value;
  }

  async ensure(bytesNeeded: number): Promise<void> {
    if (bytesNeeded === 0 && this.config.storage.minFreeBytes === 0) return;
    const status = await this.status();
    const after = status.freeBytes - bytesNeeded;
    if (after < this.config.storage.minFreeBytes) {
      throw new DomainError(
        'insufficient_storage',
        'INSUFFICIENT_STORAGE',
        `not enough free space: ${status.freeBytes} bytes free, this needs ${bytesNeeded} and DLS_STORAGE_MIN_FREE keeps ${this.config.storage.minFreeBytes}`,
        { freeBytes: status.freeBytes, neededBytes: bytesNeeded, minFreeBytes: this.config.storage.minFreeBytes },
      );
    }
  }

  /** What one more copy of an image costs up front: nothing for zfs clones and reflinks, the full size for plain copies. */
  async cloneCost(imageId: string): Promise<number> {
    const status = await this.status();
    if (status.cloneMethod !== 'copy') return 0;
    return storageCall(() => this.driver.imageSizeBytes(imageId));
  }
}
