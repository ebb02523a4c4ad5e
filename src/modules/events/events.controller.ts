import { Controller, Get, Headers, HttpCode, Post, Query, Req, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiExtraModels, ApiHeader, ApiOkResponse, ApiOperation, ApiProduces, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { api } from '@common/api';
import { Auth, CurrentUser, Principal } from '@common/auth/auth.decorators';
import { Role } from '@common/auth/role';
import { StreamTicketOnly } from '@common/auth/stream-ticket';
import { ApiErrors } from '@common/errors/api-errors.decorator';
import { EventMessageDto, EventTicketDto, StreamEventsQueryDto } from './dto/event.dto';
import { EventTicketsService } from './event-tickets.service';
import { EventsService } from './events.service';
import { openSse } from './sse-response';

@ApiTags('events')
@Auth(Role.Viewer)
@Controller(api('events'))
export class EventsController {
  constructor(
    private readonly events: EventsService,
    private readonly tickets: EventTicketsService,
  ) {}

  @Post('ticket')
  @HttpCode(201)
  @ApiOperation({ summary: 'A single-use stream ticket (30 s) for GET /events?ticket=, for EventSource clients that cannot send headers' })
  @ApiCreatedResponse({ type: EventTicketDto })
  ticket(@CurrentUser() user: Principal): EventTicketDto {
    return this.tickets.issue(user);
  }

  @Get()
  @StreamTicketOnly()
  @ApiOperation({
    summary: 'Live events (Server-Sent Events), filtered by role',
    description:
      'Authenticate with `?ticket=` only (a single-use ticket from POST /events/ticket; a Bearer token alone gets 401). Each message has `id`, `event` (the type) and ' +
      '`data` (an EventMessageDto). `Last-Event-ID` (or `?lastEventId=`) resumes within the window (last ' +
      'DLS_EVENTS_MAX_COUNT events / DLS_EVENTS_MAX_AGE); an older id gets a `reset` event. A subscriber that ' +
      'falls more than DLS_EVENTS_MAX_LAG events behind gets a final `dropped` event. Heartbeat comment every 15 s.',
  })
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'resume after this event id' })
  @ApiExtraModels(EventMessageDto)
  @ApiOkResponse({
    description: 'text/event-stream; each `data:` line is an EventMessageDto',
    content: { 'text/event-stream': { schema: { $ref: getSchemaPath(EventMessageDto) } } },
  })
  @ApiErrors({ 400: 'VALIDATION_FAILED: lastEventId (query) is not an event id' })
  async stream(
    @CurrentUser() user: Principal,
    @Query() q: StreamEventsQueryDto,
    @Headers('last-event-id') lastEventIdHeader: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const header = lastEventIdHeader?.trim();
    const lastEventId = header && /^\d{1,18}$/.test(header) ? header : (q.lastEventId ?? null);
    const state: { sub?: { close(): void }; gone: boolean } = { gone: false };
    const sink = openSse(req, res, () => {
      state.gone = true;
      state.sub?.close();
    });
    state.sub = await this.events.subscribe(user, sink, lastEventId);
    if (state.gone) state.sub.close();
  }
}
