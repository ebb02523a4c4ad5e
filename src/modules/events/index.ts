/** Public surface of the events module: other modules publish through the EVENT_PUBLISHER port. */
export * from './event-types';
export { EventsModule } from './events.module';
export { EventsService } from './events.service';
