import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PageResponseDto } from '@common/pagination';
import { ImageSnapshot } from '../image-snapshot.entity';

/** An image version as the API returns it. */
export class SnapshotResponseDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) imageId: string;
  @ApiProperty() name: string;
  @ApiPropertyOptional({ nullable: true, type: String }) description: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'ZFS snapshot or file path; null until storage made it' })
  storageRef: string | null;
  @ApiPropertyOptional({ nullable: true, type: Number }) sizeBytes: number | null;
  @ApiProperty() isPublished: boolean;
  @ApiPropertyOptional({ nullable: true, type: Date }) publishedAt: Date | null;
  @ApiProperty() createdAt: Date;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid' }) createdBy: string | null;

  static from(s: ImageSnapshot): SnapshotResponseDto {
    const d = new SnapshotResponseDto();
    d.id = s.id;
    d.imageId = s.imageId;
    d.name = s.name;
    d.description = s.description;
    d.storageRef = s.storageRef;
    d.sizeBytes = s.sizeBytes;
    d.isPublished = s.isPublished;
    d.publishedAt = s.publishedAt;
    d.createdAt = s.createdAt;
    d.createdBy = s.createdBy;
    return d;
  }
}

export class SnapshotPageDto extends PageResponseDto {
  @ApiProperty({ type: [SnapshotResponseDto] }) items: SnapshotResponseDto[];
}
