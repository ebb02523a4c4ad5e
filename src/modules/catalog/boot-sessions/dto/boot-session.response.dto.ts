import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PageResponseDto } from '@common/pagination';
import { BootSession, SESSION_STATUSES, SessionStatus } from '../boot-session.entity';

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
    d.errorMessage = s.errorMessage;
    d.clientIp = s.clientIp;
    d.bootServerIp = s.bootServerIp;
    d.version = s.version;
    return d;
  }
}

export class BootSessionPageDto extends PageResponseDto {
  @ApiProperty({ type: [BootSessionResponseDto] }) items: BootSessionResponseDto[];
}
