import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ZfsStorageModule } from '../zfs-storage/zfs-storage.module';
import { Image } from './image.entity';
import { ImagesController } from './images.controller';
import { ImagesService } from './images.service';

/** Golden images (`/api/v1/images`). Exports ImagesService for the storage and boot planes. */
@Module({
  imports: [TypeOrmModule.forFeature([Image]), ZfsStorageModule],
  controllers: [ImagesController],
  providers: [ImagesService],
  exports: [ImagesService],
})
export class ImagesModule {}
