import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CatalogModule } from '../catalog';
import { EVENT_PUBLISHER, EventPublisher } from '../events';
import { PxeBootModule } from '../pxe-boot';
import { WakeSchedule } from './schedules/wake-schedule.entity';
import { WakeScheduleRunner } from './schedules/wake-schedule.runner';
import { WakeSchedulesController } from './schedules/wake-schedules.controller';
import { WakeSchedulesService } from './schedules/wake-schedules.service';
import { ClientWakeController, GroupWakeController } from './wake.controller';
import { WakeTargets } from './wake-targets';
import { WakeService } from './wake.service';
import { WAKE_EVENT_SINK, WakeEventSink } from './wake.events';

/**
 * Wake-on-LAN: `POST /clients/:id/wake`, `POST /client-groups/:id/wake`, the bulk `wake` action's waker, and wake
 * schedules per group (`/wake-schedules`, table `wake_schedules`, fired by {@link WakeScheduleRunner}).
 *
 * Sits above the catalogue (clients, groups) and the boot plane, whose only part it uses is the RANGE_BROADCASTER
 * port: magic packets leave through the DHCP server's socket on the client's range interface. Needs
 * `ScheduleModule.forRoot()` in the app (the runner's tick is a @nestjs/schedule cron job).
 */
@Module({
  imports: [TypeOrmModule.forFeature([WakeSchedule]), CatalogModule, PxeBootModule],
  controllers: [ClientWakeController, GroupWakeController, WakeSchedulesController],
  providers: [
    WakeTargets,
    WakeService,
    WakeSchedulesService,
    WakeScheduleRunner,
    // Every finished wake batch (client, group, bulk, schedule run) is a `wake` event on the live stream.
    {
      provide: WAKE_EVENT_SINK,
      inject: [EVENT_PUBLISHER],
      useFactory: (events: EventPublisher): WakeEventSink => ({ wakeSent: (batch) => events.emit('wake', batch) }),
    },
  ],
  exports: [WakeService, WakeScheduleRunner],
})
export class WakeModule {}
