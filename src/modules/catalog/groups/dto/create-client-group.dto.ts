import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID, Matches, MaxLength } from 'class-validator';
import { IsIpxeValue } from '@common/field-rules.decorator';
import { DISK_POLICIES, DiskPolicy } from '../../images/image.entity';
import { BOOT_LOADERS, BootLoader } from '../../clients/client.entity';

/** Body of `POST /client-groups`. Every setting is optional; null = not set (clients fall back to the default). */
export class CreateClientGroupDto {
  @ApiProperty({ example: 'room-a', maxLength: 100 })
  @IsString()
  @MaxLength(100)
  @Matches(/^\S(.*\S)?$/, { message: 'name must not be empty or start or end with white space' })
  name: string;

  @ApiPropertyOptional({ nullable: true, type: String, maxLength: 2000 })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  description?: string | null;

  @ApiPropertyOptional({ format: 'uuid', nullable: true, type: String, description: 'image the members boot unless they set their own' })
  @IsOptional()
  @IsUUID()
  imageId?: string | null;

  @ApiPropertyOptional({
    format: 'uuid',
    nullable: true,
    type: String,
    description: "a version of the group's image to boot instead of the published one",
  })
  @IsOptional()
  @IsUUID()
  pinnedSnapshotId?: string | null;

  @ApiPropertyOptional({ enum: DISK_POLICIES, nullable: true, description: "null = the image's defaultDiskPolicy" })
  @IsOptional()
  @IsIn(DISK_POLICIES)
  diskPolicy?: DiskPolicy | null;

  @ApiPropertyOptional({ enum: BOOT_LOADERS, nullable: true })
  @IsOptional()
  @IsIn(BOOT_LOADERS)
  bootLoader?: BootLoader | null;

  @ApiPropertyOptional({ nullable: true, type: String, description: 'extra kernel command line (same rules as a client customBootParams)' })
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  @IsIpxeValue('cmdline')
  bootParams?: string | null;

  @ApiPropertyOptional({
    format: 'uuid',
    nullable: true,
    type: String,
    description: 'network range whose DHCP-registered unknown MACs (policy register) join this group; one group per range',
  })
  @IsOptional()
  @IsUUID()
  defaultForRangeId?: string | null;
}
