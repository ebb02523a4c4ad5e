import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { IsIpxeValue } from '@common/field-rules.decorator';
import { DISK_POLICIES, DiskPolicy, IMAGE_FORMATS, ImageFormat } from '../image.entity';

/** ZFS dataset names (pool/child/…), as accepted by `zfs create`; no snapshot (`@`) or bookmark (`#`) parts. */
export const ZFS_DATASET_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]*(\/[A-Za-z0-9][A-Za-z0-9_.:-]*)*$/;

/** Body of `POST /images`: metadata of a golden disk image. */
export class CreateImageDto {
  @ApiProperty({ example: 'win11-base', maxLength: 255 })
  @IsString()
  @Length(1, 255)
  name: string;

  @ApiPropertyOptional({ example: 'Windows 11 23H2 with drivers' })
  @IsOptional()
  @IsString()
  @MaxLength(10_000)
  description?: string | null;

  @ApiPropertyOptional({ example: 'windows', maxLength: 100 })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  osType?: string | null;

  @ApiProperty({ example: 64 * 1024 ** 3, description: 'virtual disk size in bytes (> 0)' })
  @IsInt()
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  sizeBytes: number;

  @ApiProperty({ enum: IMAGE_FORMATS, example: 'raw' })
  @IsIn(IMAGE_FORMATS)
  format: ImageFormat;

  @ApiPropertyOptional({ example: '/var/lib/dls/images/win11-base.img', description: 'default: where the storage driver keeps its disk' })
  @IsOptional()
  @IsString()
  @Length(1, 4096)
  @Matches(/^[^\0]+$/, { message: 'path must not contain NUL bytes' })
  path?: string;

  @ApiPropertyOptional({ enum: DISK_POLICIES, default: 'reset', description: 'disk policy of clients that do not set their own' })
  @IsOptional()
  @IsIn(DISK_POLICIES)
  defaultDiskPolicy?: DiskPolicy;

  @ApiPropertyOptional({
    description:
      "Linux-style image: the kernel for a kernel boot (instead of sanboot): an http(s) or tftp URL, or a path in DLS's boot files root (DLS_TFTP_ROOT, e.g. `debian/vmlinuz`), which DLS serves itself",
  })
  @IsOptional()
  @IsString()
  @Length(1, 1024)
  @IsIpxeValue('url')
  bootKernel?: string | null;

  @ApiPropertyOptional({ description: "Linux-style image: the initrd, an http(s) or tftp URL or a path in DLS's boot files root" })
  @IsOptional()
  @IsString()
  @Length(1, 1024)
  @IsIpxeValue('url')
  bootInitrd?: string | null;

  @ApiPropertyOptional({ description: 'Linux-style image: kernel command line (printable ASCII words, no $, quotes or backslashes)' })
  @IsOptional()
  @IsString()
  @Length(1, 2048)
  @IsIpxeValue('cmdline')
  bootCmdline?: string | null;

  @ApiPropertyOptional({ example: 'tank/dls/images/win11-base', maxLength: 255 })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  @Matches(ZFS_DATASET_PATTERN, { message: 'zfsDataset must be a ZFS dataset name like pool/dls/images/name' })
  zfsDataset?: string | null;

  @ApiPropertyOptional({ type: [String], example: ['gaming', 'lab-a'], maxItems: 50 })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @ArrayUnique()
  @IsString({ each: true })
  @Length(1, 64, { each: true })
  tags?: string[] | null;

  @ApiPropertyOptional({ default: false })
  @IsOptional()
  @IsBoolean()
  isTemplate?: boolean;

  @ApiPropertyOptional({ format: 'uuid', description: 'image this one was cloned from' })
  @IsOptional()
  @IsUUID()
  parentImageId?: string | null;
}
