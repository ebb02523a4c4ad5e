import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PageResponseDto } from '@common/pagination';
import { BOOT_FIRMWARES, BootFirmware, BootSession, SESSION_STATUSES, SessionStatus } from '../boot-session.entity';

const iso = (d: Date | null): string | null => (d ? new Date(d).toISOString() : null);

/** When a session first reached each step of its boot (ISO 8601; null: not reached, or not seen by DLS). */
export class BootSessionStagesDto {
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'DHCP from the client seen (session opened by it)' })
  dhcpAt: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'a loader (undionly.kpxe, ipxe.efi…) served over TFTP' })
  loaderAt: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'the iPXE boot script served' })
  scriptAt: string | null;
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: "tgt first listed this boot's iSCSI login (the monitor looks every 2 s; never before an earlier stage)",
  })
  iscsiLoginAt: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'the session reached `running`' })
  runningAt: string | null;

  static from(s: BootSession): BootSessionStagesDto {
    const d = new BootSessionStagesDto();
    d.dhcpAt = iso(s.dhcpAt);
    d.loaderAt = iso(s.loaderAt);
    d.scriptAt = iso(s.scriptAt);
    d.iscsiLoginAt = iso(s.iscsiLoginAt);
    d.runningAt = iso(s.runningAt);
    return d;
  }
}

/** A boot session as the API returns it. */
export class BootSessionResponseDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) clientId: string;
  @ApiProperty({ format: 'uuid' }) imageId: string;
  @ApiProperty({ enum: SESSION_STATUSES }) status: SessionStatus;
  @ApiProperty() startedAt: Date;
  @ApiPropertyOptional({ nullable: true, type: Date }) endedAt: Date | null;
  @ApiPropertyOptional({ nullable: true, type: Number, description: 'seconds from start to running' }) bootTimeSeconds: number | null;
  @ApiPropertyOptional({ nullable: true, type: String }) errorMessage: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) clientIp: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) bootServerIp: string | null;
  @ApiProperty({
    enum: BOOT_FIRMWARES,
    nullable: true,
    description:
      "how the client's firmware started this boot, from the DHCP request that opened the session: bios-pxe, uefi-pxe, uefi-http (null: not opened by DHCP)",
  })
  firmware: BootFirmware | null;
  @ApiProperty({ description: "DHCP handed this boot a Secure Boot loader (Debian's shim, or the operator's signed loader for its CPU)" })
  secureBoot: boolean;
  @ApiProperty({ type: BootSessionStagesDto, description: 'when each step of the boot was first reached in this session' })
  stages: BootSessionStagesDto;
  @ApiProperty({ description: 'row version: the ETag is `"<version>"` (send it in If-Match to edit this version)', example: 1 }) version: number;

  static from(s: BootSession): BootSessionResponseDto {
    const d = new BootSessionResponseDto();
    d.id = s.id;
    d.clientId = s.clientId;
    d.imageId = s.imageId;
    d.status = s.status;
    d.startedAt = s.startedAt;
    d.endedAt = s.endedAt;
    d.bootTimeSeconds = s.bootTimeSeconds;
    d.firmware = s.firmware ?? null;
    d.secureBoot = s.secureBoot ?? false;
    d.errorMessage = s.errorMessage;
    d.clientIp = s.clientIp;
    d.bootServerIp = s.bootServerIp;
    d.stages = BootSessionStagesDto.from(s);
    d.version = s.version;
    return d;
  }
}

export class BootSessionPageDto extends PageResponseDto {
  @ApiProperty({ type: [BootSessionResponseDto] }) items: BootSessionResponseDto[];
}
