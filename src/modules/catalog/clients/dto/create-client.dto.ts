import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsIP, IsObject, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min } from 'class-validator';
import { IsIpxeValue, IsUnicastIpv4, IsUnicastMac } from '@common/field-rules.decorator';
import { normalizeMac } from '@common/mac';
import { DISK_POLICIES, DiskPolicy } from '../../images/image.entity';
import { BOOT_LOADERS, BOOT_MODES, BootLoader, BootMode } from '../client.entity';

/** Canonical MAC as stored (the transform below turns every accepted notation into this). */
export const CANONICAL_MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;
export const MAC_MESSAGE = 'macAddress must be a MAC address like aa:bb:cc:dd:ee:ff, AA-BB-CC-DD-EE-FF, aabb.ccdd.eeff or aabbccddeeff';
/** RFC 1123 §2.1 host name: dot-separated labels of 1-63 letters, digits and inner hyphens; 253 characters at most. */
export const HOSTNAME_PATTERN = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

const toCanonicalMac = ({ value }: { value: unknown }): unknown => (typeof value === 'string' ? (normalizeMac(value) ?? value) : value);

/** Body of `POST /clients` (and one row of `POST /clients/bulk`). */
export class CreateClientDto {
  @ApiProperty({ example: '52:54:00:12:34:56', description: 'any of aa:bb:cc:dd:ee:ff, AA-BB-CC-DD-EE-FF, aabb.ccdd.eeff, aabbccddeeff' })
  @Transform(toCanonicalMac)
  @IsString()
  @Matches(CANONICAL_MAC, { message: MAC_MESSAGE })
  @IsUnicastMac()
  macAddress: string;

  @ApiProperty({ example: 'pc-01' })
  @IsString()
  @Matches(HOSTNAME_PATTERN, { message: 'hostname must be an RFC 1123 host name (labels of letters, digits and inner hyphens)' })
  hostname: string;

  @ApiPropertyOptional({ example: '192.168.50.21', nullable: true, type: String, description: 'DHCP reservation; unique among clients' })
  @IsOptional()
  @IsIP(4, { message: 'ipAddress must be an IPv4 address' })
  @IsUnicastIpv4()
  ipAddress?: string | null;

  @ApiPropertyOptional({ format: 'uuid', nullable: true, type: String })
  @IsOptional()
  @IsUUID()
  assignedImageId?: string | null;

  @ApiPropertyOptional({ enum: BOOT_MODES, default: 'pxe' })
  @IsOptional()
  @IsIn(BOOT_MODES)
  bootMode?: BootMode;

  @ApiPropertyOptional({ format: 'uuid', nullable: true, type: String, description: 'client group; settings left null here come from it' })
  @IsOptional()
  @IsUUID()
  groupId?: string | null;

  @ApiPropertyOptional({ default: 2, minimum: 1, maximum: 1024 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1024)
  cpuCores?: number;

  @ApiPropertyOptional({ default: 2048, minimum: 1, maximum: 4 * 1024 * 1024 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(4 * 1024 * 1024)
  memoryMb?: number;

  @ApiPropertyOptional({ type: Object, nullable: true })
  @IsOptional()
  @IsObject()
  networkConfig?: Record<string, unknown> | null;

  @ApiPropertyOptional({
    example: 'quiet splash',
    nullable: true,
    type: String,
    description: 'extra kernel command line: printable ASCII words, no $, quotes, backslashes, ||, && or ; words',
  })
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  @IsIpxeValue('cmdline')
  customBootParams?: string | null;

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({ enum: DISK_POLICIES, nullable: true, description: "null = the image's defaultDiskPolicy" })
  @IsOptional()
  @IsIn(DISK_POLICIES)
  diskPolicy?: DiskPolicy | null;

  @ApiPropertyOptional({ format: 'uuid', nullable: true, description: 'boot this version of the assigned image instead of the published one' })
  @IsOptional()
  @IsUUID()
  pinnedSnapshotId?: string | null;

  @ApiPropertyOptional({ enum: BOOT_LOADERS, nullable: true, description: 'loader for a plain PXE ROM; null = by architecture' })
  @IsOptional()
  @IsIn(BOOT_LOADERS)
  bootLoader?: BootLoader | null;

  @ApiPropertyOptional({
    default: false,
    description:
      "the PC keeps Secure Boot on: on UEFI it gets the operator's signed loader for its CPU (/signed-loaders), else on x64 PXE Debian's signed shim → GRUB → signed kernel (its image must boot a kernel from the boot files root), instead of iPXE",
  })
  @IsOptional()
  @IsBoolean()
  secureBoot?: boolean;
}
