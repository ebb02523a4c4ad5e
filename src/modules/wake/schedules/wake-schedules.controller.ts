import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { api } from '@common/api';
import { Auth } from '@common/auth/auth.decorators';
import { Role } from '@common/auth/role';
import { mapPage, Page, uuidParam } from '@common/pagination';
import { ApiErrors } from '@common/errors/api-errors.decorator';
import { ETagged, IfMatch } from '@common/etag/etag.decorators';
import type { VersionPrecondition } from '@common/etag/etag';
import { CreateWakeScheduleDto } from './dto/create-wake-schedule.dto';
import { ListWakeSchedulesQueryDto } from './dto/list-wake-schedules.query.dto';
import { UpdateWakeScheduleDto } from './dto/update-wake-schedule.dto';
import { WakeSchedulePageDto, WakeScheduleResponseDto } from './dto/wake-schedule.response.dto';
import { WakeSchedulesService } from './wake-schedules.service';

const BAD_SCHEDULE =
  'VALIDATION_FAILED naming the field (cron, days, time, timezone), or SCHEDULE_INVALID (cron and days/time together, days without time…)';

@ApiTags('wake-schedules')
@Controller(api('wake-schedules'))
@Auth(Role.Viewer)
export class WakeSchedulesController {
  constructor(private readonly schedules: WakeSchedulesService) {}

  @Get()
  @ApiOperation({ summary: 'List wake schedules' })
  @ApiOkResponse({ type: WakeSchedulePageDto })
  @ApiErrors({ 400: true })
  async list(@Query() q: ListWakeSchedulesQueryDto): Promise<Page<WakeScheduleResponseDto>> {
    return mapPage(await this.schedules.list(q), WakeScheduleResponseDto.from);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a wake schedule' })
  @ETagged(WakeScheduleResponseDto)
  @ApiErrors({ 400: 'INVALID_UUID', 404: 'SCHEDULE_NOT_FOUND' })
  async get(@Param('id', uuidParam('id')) id: string): Promise<WakeScheduleResponseDto> {
    return WakeScheduleResponseDto.from(await this.schedules.get(id));
  }

  @Post()
  @Auth(Role.Operator)
  @ApiOperation({ summary: "Wake a group's clients on a schedule (cron, or days and time, in a time zone)" })
  @ETagged(WakeScheduleResponseDto, 201)
  @ApiErrors({ 400: BAD_SCHEDULE, 404: 'GROUP_NOT_FOUND: groupId does not exist' })
  async create(@Body() dto: CreateWakeScheduleDto): Promise<WakeScheduleResponseDto> {
    return WakeScheduleResponseDto.from(await this.schedules.create(dto));
  }

  @Patch(':id')
  @Auth(Role.Operator)
  @ApiOperation({ summary: 'Change a wake schedule (a new time counts from now; If-Match: only while it is at that version)' })
  @ETagged(WakeScheduleResponseDto)
  @ApiErrors({ 400: BAD_SCHEDULE, 404: 'SCHEDULE_NOT_FOUND, or GROUP_NOT_FOUND for groupId', 412: true })
  async update(
    @Param('id', uuidParam('id')) id: string,
    @Body() dto: UpdateWakeScheduleDto,
    @IfMatch() ifMatch?: VersionPrecondition,
  ): Promise<WakeScheduleResponseDto> {
    return WakeScheduleResponseDto.from(await this.schedules.update(id, dto, ifMatch));
  }

  @Delete(':id')
  @Auth(Role.Operator)
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a wake schedule' })
  @ApiNoContentResponse()
  @ApiErrors({ 400: 'INVALID_UUID', 404: 'SCHEDULE_NOT_FOUND' })
  async remove(@Param('id', uuidParam('id')) id: string): Promise<void> {
    await this.schedules.remove(id);
  }
}
