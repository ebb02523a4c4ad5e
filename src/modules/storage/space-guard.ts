import { Inject, Injectable, Optional } from '@nestjs/common';
import { AppConfig } from '@config/config.loader';
import { DomainError } from '@common/errors/domain-error';
import { EVENT_PUBLISHER, EventPublisher } from '../events';
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
    @Optional() @Inject(EVENT_PUBLISHER) private readonly events?: EventPublisher,
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
    // A write of real size (a full copy) is asked against a fresh answer: the shared one may be a second old and miss
    // the copy just made, and a statfs costs nothing beside the copy it guards. Free writes (clones) share it.
    if (bytesNeeded > 0) this.cached = undefined;
    const status = await this.status();
    const after = status.freeBytes - bytesNeeded;
    if (after < this.config.storage.minFreeBytes) throw this.refusal(status.freeBytes, bytesNeeded);
  }

  /**
   * How many more bytes may be written before free space drops under DLS_STORAGE_MIN_FREE, asked afresh (not the
   * shared one-second answer): for writes whose size is unknown up front, such as a chunked upload, which count
   * their bytes against it as they arrive and stop with {@link exceeded} once past it.
   */
  async budget(): Promise<number> {
    this.cached = undefined;
    const status = await this.status();
    return Math.max(0, status.freeBytes - this.config.storage.minFreeBytes);
  }

  /** The 507 for a write that went past its {@link budget} after `writtenBytes`. */
  exceeded(writtenBytes: number, budgetBytes: number): DomainError {
    const min = this.config.storage.minFreeBytes;
    return this.alert(`not enough free space: stopped after ${writtenBytes} bytes, ${budgetBytes} were free above DLS_STORAGE_MIN_FREE (${min})`, {
      freeBytes: budgetBytes + min,
      neededBytes: writtenBytes,
      minFreeBytes: min,
    });
  }

  private refusal(freeBytes: number, neededBytes: number): DomainError {
    const min = this.config.storage.minFreeBytes;
    return this.alert(`not enough free space: ${freeBytes} bytes free, this needs ${neededBytes} and DLS_STORAGE_MIN_FREE keeps ${min}`, {
      freeBytes,
      neededBytes,
      minFreeBytes: min,
    });
  }

  /** The 507, also published as a `storage.alert` event. */
  private alert(message: string, details: { freeBytes: number; neededBytes: number; minFreeBytes: number }): DomainError {
    this.events?.emit('storage.alert', { ...details, message });
    return new DomainError('insufficient_storage', 'INSUFFICIENT_STORAGE', message, details);
  }

  /** What one more copy of an image costs up front: nothing for zfs clones and reflinks, the full size for plain copies. */
  async cloneCost(imageId: string): Promise<number> {
    const status = await this.status();
    if (status.cloneMethod !== 'copy') return 0;
    return storageCall(() => this.driver.imageSizeBytes(imageId));
  }
}
