import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PageResponseDto } from '@common/pagination';
import { daysAndTimeOf, Weekday, WEEKDAYS } from '../wake-schedule.rules';
import { WakeSchedule } from '../wake-schedule.entity';

/** A wake schedule as the API returns it. */
export class WakeScheduleResponseDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) groupId: string;
  @ApiProperty({ example: '45 7 * * 1-5' }) cron: string;
  @ApiPropertyOptional({ nullable: true, type: [String], enum: WEEKDAYS, description: 'when the cron expression is "these days at HH:MM"' })
  days: Weekday[] | null;
  @ApiPropertyOptional({ nullable: true, type: String, example: '07:45' }) time: string | null;
  @ApiProperty({ example: 'Europe/Berlin' }) timezone: string;
  @ApiProperty() enabled: boolean;
  @ApiPropertyOptional({ nullable: true, type: Date, description: 'the next run (null while disabled)' }) nextRunAt: Date | null;
  @ApiPropertyOptional({ nullable: true, type: Date, description: 'the occurrence last fired or skipped as missed' }) lastRunAt: Date | null;
  @ApiPropertyOptional({ nullable: true, type: Number, description: 'members woken at the last run' }) lastRunTotal: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number, description: 'of which not sent' }) lastRunFailed: number | null;
  @ApiProperty({ description: 'row version: the ETag is `"<version>"` (send it in If-Match to edit this version)', example: 1 }) version: number;
  @ApiProperty() createdAt: Date;
  @ApiProperty() updatedAt: Date;

  static from(s: WakeSchedule): WakeScheduleResponseDto {
    const simple = daysAndTimeOf(s.cron);
    return Object.assign(new WakeScheduleResponseDto(), {
      id: s.id,
      groupId: s.groupId,
      cron: s.cron,
      days: simple?.days ?? null,
      time: simple?.time ?? null,
      timezone: s.timezone,
      enabled: s.enabled,
      nextRunAt: s.nextRunAt,
      lastRunAt: s.lastRunAt,
      lastRunTotal: s.lastRunTotal,
      lastRunFailed: s.lastRunFailed,
      version: s.version,
      createdAt: s.createdAt,
      updatedAt: s.updatedAt,
    });
  }
}

export class WakeSchedulePageDto extends PageResponseDto {
  @ApiProperty({ type: [WakeScheduleResponseDto] }) items: WakeScheduleResponseDto[];
}
