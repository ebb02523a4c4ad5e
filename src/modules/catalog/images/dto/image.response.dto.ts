import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PageResponseDto } from '@common/pagination';
import { IMAGE_FORMATS, Image, ImageFormat } from '../image.entity';

/** An image as the API returns it. */
export class ImageResponseDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiPropertyOptional({ nullable: true, type: String }) description: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) osType: string | null;
  @ApiProperty() sizeBytes: number;
  @ApiProperty({ enum: IMAGE_FORMATS }) format: ImageFormat;
  @ApiProperty() path: string;
  @ApiPropertyOptional({ nullable: true, type: String }) zfsDataset: string | null;
  @ApiProperty({ type: [String] }) tags: string[];
  @ApiProperty() isTemplate: boolean;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid' }) parentImageId: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid' }) createdBy: string | null;
  @ApiProperty() createdAt: Date;
  @ApiProperty() updatedAt: Date;
  @ApiProperty({ enum: ['reset', 'persistent'] }) defaultDiskPolicy: string;
  @ApiProperty({ enum: ['empty', 'importing', 'ready', 'failed'] }) contentStatus: string;
  @ApiPropertyOptional({ nullable: true, type: Number, description: 'import progress in percent' }) contentProgress: number | null;
  @ApiPropertyOptional({ nullable: true, type: String }) contentError: string | null;
  @ApiPropertyOptional({
    nullable: true,
    type: String,
    description: 'sha256 of disk.raw as uploaded or imported; null before content and for a blank disk (all zeros, not read end to end)',
  })
  contentSha256: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid' }) maintenanceClientId: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) bootKernel: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) bootInitrd: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) bootCmdline: string | null;

  static from(i: Image): ImageResponseDto {
    const d = new ImageResponseDto();
    d.id = i.id;
    d.name = i.name;
    d.description = i.description;
    d.osType = i.osType;
    d.sizeBytes = i.sizeBytes;
    d.format = i.format;
    d.path = i.path;
    d.zfsDataset = i.zfsDataset;
    d.tags = i.tags ?? [];
    d.isTemplate = i.isTemplate;
    d.parentImageId = i.parentImageId;
    d.createdBy = i.createdBy;
    d.createdAt = i.createdAt;
    d.updatedAt = i.updatedAt;
    d.defaultDiskPolicy = i.defaultDiskPolicy;
    d.contentStatus = i.contentStatus;
    d.contentProgress = i.contentProgress;
    d.contentError = i.contentError;
    d.contentSha256 = i.contentSha256;
    d.maintenanceClientId = i.maintenanceClientId;
    d.bootKernel = i.bootKernel;
    d.bootInitrd = i.bootInitrd;
    d.bootCmdline = i.bootCmdline;
    return d;
  }
}

export class ImagePageDto extends PageResponseDto {
  @ApiProperty({ type: [ImageResponseDto] }) items: ImageResponseDto[];
}
