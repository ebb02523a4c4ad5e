import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { StorageStatus } from '../../storage';

class VersionSpaceDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty({ description: 'bytes the version refers to' }) referencedBytes: number;
  @ApiProperty({ description: 'bytes only this version holds' }) usedBytes: number;
}

class ImageSpaceDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty({ description: "apparent size of the image's disk.raw (0 without content)" }) sizeBytes: number;
  @ApiProperty({ enum: ['empty', 'importing', 'ready', 'failed'] }) contentStatus: string;
  @ApiProperty({ type: [VersionSpaceDto] }) versions: VersionSpaceDto[];
}

class ClientDiskSpaceDto {
  @ApiProperty({ format: 'uuid' }) clientId: string;
  @ApiProperty({ format: 'uuid' }) imageId: string;
  @ApiProperty({ format: 'uuid' }) versionId: string;
  @ApiProperty({ description: 'bytes the client wrote to its clone' }) writtenBytes: number;
}

/** `GET /storage`: the driver, its space and what each image, version and client disk takes. */
export class StorageStatusDto {
  @ApiProperty({ enum: ['zfs', 'dir'] }) driver: 'zfs' | 'dir';
  @ApiProperty({ description: 'zfs: the root dataset (tank/dls); dir: the root directory' }) root: string;
  @ApiProperty({ enum: ['zfs-clone', 'reflink', 'overlay', 'copy'], description: 'how client disks are made' })
  cloneMethod: StorageStatus['cloneMethod'];
  @ApiProperty() totalBytes: number;
  @ApiProperty() freeBytes: number;
  @ApiProperty() usedBytes: number;
  @ApiProperty() healthy: boolean;
  @ApiPropertyOptional({ description: 'pool health, or why storage is unhealthy' }) detail?: string;
  @ApiProperty({ description: 'DLS_STORAGE_MIN_FREE' }) minFreeBytes: number;
  @ApiProperty({ type: [ImageSpaceDto] }) images: ImageSpaceDto[];
  @ApiProperty({ type: [ClientDiskSpaceDto] }) clientDisks: ClientDiskSpaceDto[];
}
