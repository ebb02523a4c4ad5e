import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ZfsStorageModule } from '../zfs-storage/zfs-storage.module';
import { ImageSnapshot } from './image-snapshot.entity';
import { SnapshotsController } from './snapshots.controller';
import { SnapshotsService } from './snapshots.service';

/** Image versions (`/api/v1/images/:imageId/snapshots`). Exports SnapshotsService for the storage and boot planes. */
@Module({
  imports: [TypeOrmModule.forFeature([ImageSnapshot]), ZfsStorageModule],
  controllers: [SnapshotsController],
  providers: [SnapshotsService],
  exports: [SnapshotsService],
})
export class SnapshotsModule {}
