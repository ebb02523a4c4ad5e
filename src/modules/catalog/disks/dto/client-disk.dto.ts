import { ApiProperty } from '@nestjs/swagger';
import { DISK_POLICIES, DiskPolicy } from '../../images/image.entity';
import { CLIENT_DISK_STATES, ClientDiskState } from '../client-disk.entity';

/** A client's copy-on-write disk as the API shows it. */
export class ClientDiskDto {
  @ApiProperty({ format: 'uuid' }) clientId: string;
  @ApiProperty({ description: 'the clone (zfs dataset device or file) tgt exports' }) path: string;
  @ApiProperty({ format: 'uuid' }) imageId: string;
  @ApiProperty({ format: 'uuid', description: 'the version it was cloned from' }) versionId: string;
  @ApiProperty() versionName: string;
  @ApiProperty({ enum: DISK_POLICIES, description: 'the disk policy in force' }) policy: DiskPolicy;
  @ApiProperty({ description: 'a maintenance clone (its content can be committed as a new version)' }) isMaintenance: boolean;
  @ApiProperty({ description: 'virtual size in bytes' }) sizeBytes: number;
  @ApiProperty({ description: 'bytes the client wrote to its clone' }) writtenBytes: number;
  @ApiProperty({ enum: CLIENT_DISK_STATES }) state: ClientDiskState;
  @ApiProperty({
    type: String,
    nullable: true,
    format: 'uuid',
    description:
      'the node whose storage holds it (GET /nodes). A disk is not copied between nodes: if that node is lost, the client gets a fresh clone of its version on the node that takes over (a persistent disk loses its writes)',
  })
  nodeId: string | null;
  @ApiProperty() createdAt: Date;
}
