import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { STREAM_TICKETS } from '@common/auth/stream-ticket';
import { DlsEvent } from './event.entity';
import { EventTicketsService } from './event-tickets.service';
import { EVENT_PUBLISHER } from './event-types';
import { EventsController } from './events.controller';
import { EventsService } from './events.service';

/**
 * Live events: the `events` table (resume window), publishing through PostgreSQL NOTIFY, the SSE stream and its
 * tickets. Global so any module can inject the {@link EVENT_PUBLISHER} port (and the global guard the ticket verifier).
 */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([DlsEvent])],
  controllers: [EventsController],
  providers: [
    EventsService,
    { provide: EventTicketsService, useFactory: () => new EventTicketsService() },
    { provide: EVENT_PUBLISHER, useExisting: EventsService },
    { provide: STREAM_TICKETS, useExisting: EventTicketsService },
  ],
  exports: [EventsService, EVENT_PUBLISHER, STREAM_TICKETS],
})
export class EventsModule {}
