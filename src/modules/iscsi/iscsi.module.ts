import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ZfsStorageModule } from '../zfs-storage/zfs-storage.module';
import { IscsiExport } from './iscsi-export.entity';
import { IscsiExportsService } from './iscsi-exports.service';
import { IscsiController } from './iscsi.controller';

/** iSCSI exports of client disks through a supervised (or attached) tgtd. */
@Module({
  imports: [TypeOrmModule.forFeature([IscsiExport]), ZfsStorageModule],
  controllers: [IscsiController],
  providers: [IscsiExportsService],
  exports: [IscsiExportsService],
})
export class IscsiModule {}
