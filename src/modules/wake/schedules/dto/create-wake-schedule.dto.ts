import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  ValidateBy,
  ValidationArguments,
} from 'class-validator';
import { CRON_MAX_LENGTH, cronProblem, isTimeZone, TIME_OF_DAY, Weekday, WEEKDAYS } from '../wake-schedule.rules';

/** A 5-field cron expression that fires some day (400 naming the field and the problem otherwise). */
function IsWakeCron(): PropertyDecorator {
  return ValidateBy({
    name: 'isWakeCron',
    validator: {
      validate: (v: unknown) => typeof v === 'string' && cronProblem(v) === null,
      defaultMessage: (a?: ValidationArguments) =>
        `${a?.property ?? 'cron'} ${typeof a?.value === 'string' ? cronProblem(a.value) : 'must be a string'} (a 5-field cron expression: minute hour day-of-month month day-of-week, e.g. 45 7 * * 1-5)`,
    },
  });
}

/** An IANA time zone name. */
function IsTimeZone(): PropertyDecorator {
  return ValidateBy({
    name: 'isTimeZone',
    validator: {
      validate: (v: unknown) => typeof v === 'string' && isTimeZone(v),
      defaultMessage: (a?: ValidationArguments) => `${a?.property ?? 'timezone'} must be an IANA time zone such as Europe/Berlin or UTC`,
    },
  });
}

/**
 * Body of `POST /wake-schedules`: the group, when (either `days` + `time`, or `cron`), and the time zone that is read in.
 */
export class CreateWakeScheduleDto {
  @ApiProperty({ format: 'uuid', description: 'the group whose members are woken' })
  @IsUUID()
  groupId: string;

  @ApiPropertyOptional({
    type: [String],
    enum: WEEKDAYS,
    example: ['mon', 'tue', 'wed', 'thu', 'fri'],
    description: 'days of the week (with time; instead of cron)',
  })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(7)
  @ArrayUnique()
  @IsIn(WEEKDAYS, { each: true })
  days?: Weekday[];

  @ApiPropertyOptional({ example: '07:45', pattern: TIME_OF_DAY.source, description: 'HH:MM, 24-hour (with days; instead of cron)' })
  @IsOptional()
  @IsString()
  @Matches(TIME_OF_DAY, { message: 'time must be HH:MM (24-hour, e.g. 07:45)' })
  time?: string;

  @ApiPropertyOptional({
    example: '45 7 * * 1-5',
    maxLength: CRON_MAX_LENGTH,
    description: 'minute hour day-of-month month day-of-week (instead of days and time)',
  })
  @IsOptional()
  @IsString()
  @IsWakeCron()
  cron?: string;

  @ApiProperty({ example: 'Europe/Berlin', description: 'IANA time zone the schedule is read in (daylight saving followed)' })
  @IsString()
  @IsTimeZone()
  timezone: string;

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}
