import { ApiProperty } from '@nestjs/swagger';
import { DISK_POLICIES } from '../../catalog';
import type { DiskPolicy } from '../../catalog';
import { ROOM_STATES, RoomState } from '../room-state';

/** One client as a tile of the Room grid. */
export class RoomClientDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'pc-01' }) hostname: string;
  @ApiProperty({ example: '52:54:00:12:34:56' }) macAddress: string;
  @ApiProperty({ type: String, nullable: true, description: 'reserved address, if any', example: '10.0.0.101' }) ipAddress: string | null;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) groupId: string | null;
  @ApiProperty() enabled: boolean;
  @ApiProperty({ description: 'registered by its first boot and waiting for an operator' }) pending: boolean;
  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: "the effective image (the client's own, else its group's)" })
  imageId: string | null;
  @ApiProperty({ type: String, nullable: true }) imageName: string | null;
  @ApiProperty({
    type: String,
    format: 'uuid',
    nullable: true,
    description: "the version it boots: its (or its group's) pinned version, else the image's published one; null: none",
  })
  snapshotId: string | null;
  @ApiProperty({ type: String, nullable: true, description: "that version's name", example: '2026-12 updates' }) versionLabel: string | null;
  @ApiProperty({ enum: DISK_POLICIES, nullable: true, description: "effective: the client's, else its group's, else the image's default" })
  diskPolicy: DiskPolicy | null;
  @ApiProperty({
    enum: ROOM_STATES,
    description:
      'live boot stage. From the newest boot session: running → `running`; starting/booting → the latest stage stamped ' +
      '(`iscsi` login seen, `script` served, `loader` served, `dhcp`; unstamped: `dhcp` while starting, `loader` while booting). ' +
      "No open session: `disk-in-use` when tgt lists a login to the client's disk (read once per snapshot; never with iSCSI off), " +
      'else `error` when the newest session ended in error, else `off`.',
  })
  state: RoomState;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'since when the client is in `state` (null: unknown)' })
  stateSince: string | null;
  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: 'the boot session `state` comes from (open, or the failed one)' })
  sessionId: string | null;
  @ApiProperty({ type: Number, nullable: true, description: 'bootTimeSeconds of its newest session that reached running' })
  lastBootSeconds: number | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'when it last reached running' }) lastBootAt: string | null;
}

/** Every client at once, for the Room grid; live changes then come over `GET /events` resumed from `lastEventId`. */
export class RoomSnapshotDto {
  @ApiProperty({ type: String, format: 'date-time' }) generatedAt: string;
  @ApiProperty({
    type: String,
    nullable: true,
    example: '1234',
    description: 'newest event id when the snapshot was taken: open the event stream with it (Last-Event-ID / lastEventId) to miss nothing',
  })
  lastEventId: string | null;
  @ApiProperty({ type: [RoomClientDto], description: 'every client, by hostname' }) clients: RoomClientDto[];
}
