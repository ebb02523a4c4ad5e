import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PageResponseDto } from '@common/pagination';
import { BOOT_MODES, BootMode, Client } from '../client.entity';
import { EffectiveSettings, SETTING_SOURCES, SettingSource } from '../../groups/effective-settings';

/** One effective setting and where it comes from. */
export class EffectiveValueDto {
  @ApiPropertyOptional({ nullable: true, type: String }) value: string | null;
  @ApiProperty({ enum: SETTING_SOURCES }) source: SettingSource;
}

/** What the client boots with, field by field: its own value, its group's, or the default. */
export class EffectiveSettingsDto {
  @ApiProperty({ type: EffectiveValueDto }) imageId: EffectiveValueDto;
  @ApiProperty({ type: EffectiveValueDto }) pinnedSnapshotId: EffectiveValueDto;
  @ApiProperty({ type: EffectiveValueDto, description: "value null = the image's defaultDiskPolicy" }) diskPolicy: EffectiveValueDto;
  @ApiProperty({ type: EffectiveValueDto, description: 'value null = chosen by architecture' }) bootLoader: EffectiveValueDto;
  @ApiProperty({ type: EffectiveValueDto }) customBootParams: EffectiveValueDto;
}

/** A client as the API returns it. */
export class ClientResponseDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: '52:54:00:12:34:56' }) macAddress: string;
  @ApiProperty() hostname: string;
  @ApiPropertyOptional({ nullable: true, type: String }) ipAddress: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid' }) assignedImageId: string | null;
  @ApiProperty({ enum: BOOT_MODES }) bootMode: BootMode;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid' }) groupId: string | null;
  @ApiProperty() cpuCores: number;
  @ApiProperty() memoryMb: number;
  @ApiPropertyOptional({ nullable: true, type: Object }) networkConfig: Record<string, unknown> | null;
  @ApiPropertyOptional({ nullable: true, type: String }) customBootParams: string | null;
  @ApiProperty() enabled: boolean;
  @ApiPropertyOptional({ nullable: true, enum: ['reset', 'persistent'] }) diskPolicy: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid' }) pinnedSnapshotId: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) bootLoader: string | null;
  @ApiProperty({
    description:
      "UEFI boots a signed loader instead of iPXE: the operator's for its CPU (/signed-loaders), else Debian's shim → GRUB → signed kernel over PXE",
  })
  secureBoot: boolean;
  @ApiProperty({ description: 'registered by DHCP, waiting for an admin' }) pending: boolean;
  @ApiProperty() createdAt: Date;
  @ApiProperty() updatedAt: Date;
  @ApiPropertyOptional({ nullable: true, type: Date }) lastBootAt: Date | null;
  @ApiProperty() bootCount: number;
  @ApiProperty({ type: EffectiveSettingsDto }) effective: EffectiveSettingsDto;
  @ApiProperty({
    description:
      'row version of the client record: the ETag is `"<version>"` (send it in If-Match to edit this version); `effective` values that come from the group follow the group\'s own version',
    example: 1,
  })
  version: number;

  static from(c: Client & { effective: EffectiveSettings }): ClientResponseDto {
    const d = new ClientResponseDto();
    d.id = c.id;
    d.macAddress = c.macAddress;
    d.hostname = c.hostname;
    d.ipAddress = c.ipAddress;
    d.assignedImageId = c.assignedImageId;
    d.bootMode = c.bootMode;
    d.groupId = c.groupId;
    d.cpuCores = c.cpuCores;
    d.memoryMb = c.memoryMb;
    d.networkConfig = c.networkConfig;
    d.customBootParams = c.customBootParams;
    d.enabled = c.enabled;
    d.diskPolicy = c.diskPolicy;
    d.pinnedSnapshotId = c.pinnedSnapshotId;
    d.bootLoader = c.bootLoader;
    d.secureBoot = c.secureBoot ?? false;
    d.pending = c.pending;
    d.createdAt = c.createdAt;
    d.updatedAt = c.updatedAt;
    d.lastBootAt = c.lastBootAt;
    d.bootCount = c.bootCount;
    d.effective = c.effective;
    d.version = c.version;
    return d;
  }
}

export class ClientPageDto extends PageResponseDto {
  @ApiProperty({ type: [ClientResponseDto] }) items: ClientResponseDto[];
}
