import { Injectable } from '@nestjs/common';

/** Called before a client's disk is destroyed or replaced: the iSCSI module unexports it (stale-data safety). */
export type BeforeDiskChange = (clientId: string, reason: 'reset' | 'destroy' | 'version-change') => Promise<void>;

/**
 * A small registry instead of a module cycle: storage must unexport before it destroys a disk, but the iSCSI module
 * depends on storage (it exports the disk paths). The iSCSI module registers its handler here at start-up.
 */
@Injectable()
export class ClientDiskHooks {
  private readonly before: BeforeDiskChange[] = [];

  onBeforeChange(fn: BeforeDiskChange): void {
    this.before.push(fn);
  }

  async beforeChange(clientId: string, reason: 'reset' | 'destroy' | 'version-change'): Promise<void> {
    for (const fn of this.before) await fn(clientId, reason);
  }
}
