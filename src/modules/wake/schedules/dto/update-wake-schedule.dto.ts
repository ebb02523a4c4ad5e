import { PartialType } from '@nestjs/swagger';
import { CreateWakeScheduleDto } from './create-wake-schedule.dto';

/**
 * Body of `PATCH /wake-schedules/:id`: any subset. A new `cron`, or `days` and `time` together, replaces when it
 * fires; a change of when, of the time zone or enabling it again counts from now (no missed run is fired).
 */
export class UpdateWakeScheduleDto extends PartialType(CreateWakeScheduleDto) {}
