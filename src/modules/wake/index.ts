/** Public surface of the wake module: other modules import from here only. */
export { WakeSchedule } from './schedules/wake-schedule.entity';
export { WakeModule } from './wake.module';
export { WakeService } from './wake.service';
export type { WakeBatch } from './wake.service';
export { WakeScheduleRunner } from './schedules/wake-schedule.runner';
export type { WakeRunReport, WakeRunEntry } from './schedules/wake-schedule.runner';
export { WakeErrorCode } from './wake.errors';
export { WAKE_EVENT_SINK } from './wake.events';
export type { WakeEventSink, WakeBatchEvent, WakeClientOutcome, WakeTrigger } from './wake.events';
