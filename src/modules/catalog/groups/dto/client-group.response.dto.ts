import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PageResponseDto } from '@common/pagination';
import { DISK_POLICIES } from '../../images/image.entity';
import { BOOT_LOADERS } from '../../clients/client.entity';
import { ClientGroup } from '../client-group.entity';

/** A client group as the API returns it. */
export class ClientGroupResponseDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiPropertyOptional({ nullable: true, type: String }) description: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid' }) imageId: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid' }) pinnedSnapshotId: string | null;
  @ApiPropertyOptional({ nullable: true, enum: DISK_POLICIES }) diskPolicy: string | null;
  @ApiPropertyOptional({ nullable: true, enum: BOOT_LOADERS }) bootLoader: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) bootParams: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid' }) defaultForRangeId: string | null;
  @ApiProperty({ description: 'row version (the ETag)' }) version: number;
  @ApiProperty() createdAt: Date;
  @ApiProperty() updatedAt: Date;

  static from(g: ClientGroup): ClientGroupResponseDto {
    const d = new ClientGroupResponseDto();
    d.id = g.id;
    d.name = g.name;
    d.description = g.description;
    d.imageId = g.imageId;
    d.pinnedSnapshotId = g.pinnedSnapshotId;
    d.diskPolicy = g.diskPolicy;
    d.bootLoader = g.bootLoader;
    d.bootParams = g.bootParams;
    d.defaultForRangeId = g.defaultForRangeId;
    d.version = g.version;
    d.createdAt = g.createdAt;
    d.updatedAt = g.updatedAt;
    return d;
  }
}

export class ClientGroupPageDto extends PageResponseDto {
  @ApiProperty({ type: [ClientGroupResponseDto] }) items: ClientGroupResponseDto[];
}
