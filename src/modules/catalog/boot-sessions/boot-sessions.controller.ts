import { Body, Controller, Get, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth } from '@common/auth/auth.decorators';
import { api } from '@common/api';
import { ApiErrors } from '@common/errors/api-errors.decorator';
import { ETagged, IfMatch } from '@common/etag/etag.decorators';
import type { VersionPrecondition } from '@common/etag/etag';
import { mapPage, Page, PaginationQueryDto, uuidParam } from '@common/pagination';
import { Role } from '@common/auth/role';
import { BootSessionsService } from './boot-sessions.service';
import { BootSessionPageDto, BootSessionResponseDto } from './dto/boot-session.response.dto';
import { CreateBootSessionDto } from './dto/create-boot-session.dto';
import { ListBootSessionsQueryDto } from './dto/list-boot-sessions.query.dto';
import { BootSessionStatsDto, BootSessionStatsQueryDto } from './dto/boot-session-stats.dto';
import { UpdateBootSessionDto } from './dto/update-boot-session.dto';

@ApiTags('boot-sessions')
@Controller(api('boot-sessions'))
@Auth(Role.Viewer)
export class BootSessionsController {
  constructor(private readonly sessions: BootSessionsService) {}

  @Get()
  @ApiOperation({ summary: 'List boot sessions (filters, time range, sort, q)' })
  @ApiOkResponse({ type: BootSessionPageDto })
  @ApiErrors({ 400: 'VALIDATION_FAILED or INVALID_TIME_RANGE' })
  async list(@Query() q: ListBootSessionsQueryDto): Promise<Page<BootSessionResponseDto>> {
    return mapPage(await this.sessions.list(q), BootSessionResponseDto.from);
  }

  @Get('active')
  @ApiOperation({ summary: 'List open (starting, booting, running) boot sessions' })
  @ApiOkResponse({ type: BootSessionPageDto, description: 'open (starting/booting/running) sessions' })
  @ApiErrors({ 400: true })
  async active(@Query() q: PaginationQueryDto): Promise<Page<BootSessionResponseDto>> {
    return mapPage(await this.sessions.active(q), BootSessionResponseDto.from);
  }

  @Get('stats')
  @ApiOperation({ summary: 'Boot statistics of a time window: boots, running, errors, boot-time percentiles and histogram, stage medians' })
  @ApiOkResponse({ type: BootSessionStatsDto })
  @ApiErrors({ 400: 'VALIDATION_FAILED (from/to not ISO 8601) or INVALID_TIME_RANGE (from after to, or more than 366 days; details.field names it)' })
  async stats(@Query() q: BootSessionStatsQueryDto): Promise<BootSessionStatsDto> {
    return this.sessions.stats(q);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a boot session' })
  @ETagged(BootSessionResponseDto)
  @ApiErrors({ 400: 'INVALID_UUID', 404: 'SESSION_NOT_FOUND' })
  async get(@Param('id', uuidParam('id')) id: string): Promise<BootSessionResponseDto> {
    return BootSessionResponseDto.from(await this.sessions.get(id));
  }

  @Post()
  @Auth(Role.Operator)
  @ApiOperation({ summary: 'Open a boot session for a client' })
  @ETagged(BootSessionResponseDto, 201)
  @ApiErrors({ 400: true, 404: 'CLIENT_NOT_FOUND', 409: 'CLIENT_HAS_NO_IMAGE, CLIENT_DISABLED or SESSION_ALREADY_OPEN' })
  async open(@Body() dto: CreateBootSessionDto): Promise<BootSessionResponseDto> {
    return BootSessionResponseDto.from(await this.sessions.open(dto.clientId, dto));
  }

  @Patch(':id')
  @Auth(Role.Operator)
  @ApiOperation({ summary: 'Move a boot session along its lifecycle (If-Match: only while it is at that version)' })
  @ETagged(BootSessionResponseDto)
  @ApiErrors({
    400: 'VALIDATION_FAILED, ERROR_MESSAGE_REQUIRED (errorMessage missing for status error), ERROR_MESSAGE_NOT_ALLOWED or INVALID_IF_MATCH',
    404: 'SESSION_NOT_FOUND',
    409: 'ILLEGAL_TRANSITION',
  })
  async transition(
    @Param('id', uuidParam('id')) id: string,
    @Body() dto: UpdateBootSessionDto,
    @IfMatch() ifMatch?: VersionPrecondition,
  ): Promise<BootSessionResponseDto> {
    return BootSessionResponseDto.from(await this.sessions.transition(id, dto.status, dto.errorMessage, ifMatch));
  }
}
