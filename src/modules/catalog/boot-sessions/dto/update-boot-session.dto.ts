import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length } from 'class-validator';
import { SESSION_STATUSES, SessionStatus } from '../boot-session.entity';

/** Body of `PATCH /boot-sessions/:id`: move the session along its lifecycle. */
export class UpdateBootSessionDto {
  @ApiProperty({ enum: SESSION_STATUSES })
  @IsIn(SESSION_STATUSES)
  status: SessionStatus;

  @ApiPropertyOptional({ description: 'required with status error, not allowed otherwise', example: 'iSCSI login timed out' })
  @IsOptional()
  @IsString()
  @Length(1, 10_000)
  errorMessage?: string;
}
