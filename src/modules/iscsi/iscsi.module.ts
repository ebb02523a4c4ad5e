import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { IscsiExport } from './iscsi-export.entity';
import { IscsiExportsService } from './iscsi-exports.service';
import { IscsiController } from './iscsi.controller';

/** iSCSI exports of client disks through a supervised (or attached) tgtd. */
@Module({
  imports: [TypeOrmModule.forFeature([IscsiExport])],
  controllers: [IscsiController],
  providers: [IscsiExportsService],
  exports: [IscsiExportsService],
})
export class IscsiModule {}
