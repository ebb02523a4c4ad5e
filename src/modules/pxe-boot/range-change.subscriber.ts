import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntitySubscriberInterface } from 'typeorm';
import { NetworkRange } from '../network';
import { DhcpProvider } from './dhcp';
import { TftpProvider } from './tftp/tftp.provider';

/** Changes that arrive together (a bulk edit) cause one reload. */
const RELOAD_DEBOUNCE_MS = 250;

/**
 * Makes the DHCP and TFTP servers pick up network-range changes at once instead of at its next periodic re-read: listens to
 * TypeORM's insert/update/remove events of `NetworkRange` and asks the server to reload (debounced, after the
 * change had time to commit). Keeps the network module free of any dependency on the boot plane.
 */
@Injectable()
export class RangeChangeSubscriber implements EntitySubscriberInterface<NetworkRange>, OnModuleDestroy {
  private readonly logger = new Logger(RangeChangeSubscriber.name);
  private timer?: NodeJS.Timeout;

  constructor(
    @InjectDataSource() dataSource: DataSource,
    private readonly dhcp: DhcpProvider,
    private readonly tftp: TftpProvider,
  ) {
    dataSource.subscribers.push(this);
  }

  listenTo(): typeof NetworkRange {
    return NetworkRange;
  }

  afterInsert(): void {
    this.schedule();
  }

  afterUpdate(): void {
    this.schedule();
  }

  afterRemove(): void {
    this.schedule();
  }

  onModuleDestroy(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.dhcp.reload().catch((err: unknown) => this.logger.warn(`DHCP reload after a range change failed: ${(err as Error).message}`));
      void this.tftp.reload();
    }, RELOAD_DEBOUNCE_MS);
    this.timer.unref();
  }
}
