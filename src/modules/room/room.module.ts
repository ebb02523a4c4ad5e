import { Module } from '@nestjs/common';
import { IscsiModule } from '../iscsi';
import { RoomController } from './room.controller';
import { RoomQuery } from './room.query';
import { RoomService } from './room.service';

/**
 * The Room: one snapshot of every client and its live boot stage for the dashboard's grid. Owns no table: it reads
 * the catalogue's through read-only queries ({@link RoomQuery}), the newest event id from the (global) events module,
 * and tgt's logins from the iSCSI module.
 */
@Module({
  imports: [IscsiModule],
  controllers: [RoomController],
  providers: [RoomQuery, RoomService],
})
export class RoomModule {}
