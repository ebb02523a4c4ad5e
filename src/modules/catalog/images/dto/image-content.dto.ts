import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsInt, IsString, Matches, MaxLength, Min } from 'class-validator';
import { IMAGE_FORMATS, ImageFormat } from '../image.entity';

export class ContentFormatQuery {
  @ApiProperty({ enum: IMAGE_FORMATS })
  @IsIn(IMAGE_FORMATS)
  format: ImageFormat;
}

export class BlankContentDto {
  @ApiProperty({ example: 8589934592, description: 'virtual size in bytes (multiple of 512)' })
  @IsInt()
  @Min(1)
  sizeBytes: number;
}

export class ImportContentDto {
  @ApiProperty({ example: '/srv/images/win11.qcow2', description: 'absolute path of a file on the DLS server' })
  @IsString()
  @MaxLength(4096)
  @Matches(/^\//, { message: 'path must be an absolute path' })
  path: string;

  @ApiProperty({ enum: IMAGE_FORMATS })
  @IsIn(IMAGE_FORMATS)
  format: ImageFormat;
}

export class MaintenanceDto {
  @ApiProperty({ format: 'uuid' })
  @Matches(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, { message: 'clientId must be a UUID' })
  clientId: string;
}
