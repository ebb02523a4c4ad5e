import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ZfsStorageModule } from '../zfs-storage/zfs-storage.module';
import { Client } from './client.entity';
import { ClientsController } from './clients.controller';
import { ClientsService } from './clients.service';

/** Diskless PCs (`/api/v1/clients`). Exports ClientsService (findByMac) for the boot plane. */
@Module({
  imports: [TypeOrmModule.forFeature([Client]), ZfsStorageModule],
  controllers: [ClientsController],
  providers: [ClientsService],
  exports: [ClientsService],
})
export class ClientsModule {}
