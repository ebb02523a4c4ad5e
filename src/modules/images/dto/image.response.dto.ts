import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PageResponseDto } from '../../../common/pagination';
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
    return d;
  }
}

export class ImagePageDto extends PageResponseDto {
  @ApiProperty({ type: [ImageResponseDto] }) items: ImageResponseDto[];
}
