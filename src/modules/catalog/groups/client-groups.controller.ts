import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth } from '@common/auth/auth.decorators';
import { api } from '@common/api';
import { ApiErrors } from '@common/errors/api-errors.decorator';
import { ETagged, IfMatch } from '@common/etag/etag.decorators';
import type { VersionPrecondition } from '@common/etag/etag';
import { mapPage, Page, uuidParam } from '@common/pagination';
import { ListClientGroupsQueryDto } from './dto/list-client-groups.query.dto';
import { Role } from '@common/auth/role';
import { ClientGroupsService } from './client-groups.service';
import { ClientGroupPageDto, ClientGroupResponseDto } from './dto/client-group.response.dto';
import { CreateClientGroupDto } from './dto/create-client-group.dto';
import { UpdateClientGroupDto } from './dto/update-client-group.dto';

@ApiTags('client-groups')
@Controller(api('client-groups'))
@Auth(Role.Viewer)
export class ClientGroupsController {
  constructor(private readonly groups: ClientGroupsService) {}

  @Get()
  @ApiOperation({ summary: 'List client groups' })
  @ApiOkResponse({ type: ClientGroupPageDto })
  @ApiErrors({ 400: true })
  async list(@Query() q: ListClientGroupsQueryDto): Promise<Page<ClientGroupResponseDto>> {
    return mapPage(await this.groups.list(q), ClientGroupResponseDto.from);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a client group' })
  @ETagged(ClientGroupResponseDto)
  @ApiErrors({ 400: 'INVALID_UUID', 404: 'GROUP_NOT_FOUND' })
  async get(@Param('id', uuidParam('id')) id: string): Promise<ClientGroupResponseDto> {
    return ClientGroupResponseDto.from(await this.groups.get(id));
  }

  @Post()
  @Auth(Role.Operator)
  @ApiOperation({ summary: 'Create a client group' })
  @ETagged(ClientGroupResponseDto, 201)
  @ApiErrors({
    400: true,
    404: 'imageId, pinnedSnapshotId or defaultForRangeId does not exist',
    409: 'GROUP_NAME_TAKEN, or RANGE_HAS_DEFAULT_GROUP: the range already has a default group',
  })
  async create(@Body() dto: CreateClientGroupDto): Promise<ClientGroupResponseDto> {
    return ClientGroupResponseDto.from(await this.groups.create(dto));
  }

  @Patch(':id')
  @Auth(Role.Operator)
  @ApiOperation({ summary: 'Change a client group (members follow at their next boot; If-Match: only while it is at that version)' })
  @ETagged(ClientGroupResponseDto)
  @ApiErrors({
    400: 'VALIDATION_FAILED, FIELD_NOT_NULLABLE or INVALID_IF_MATCH',
    404: 'GROUP_NOT_FOUND, or imageId, pinnedSnapshotId or defaultForRangeId does not exist',
    409: 'GROUP_NAME_TAKEN, or RANGE_HAS_DEFAULT_GROUP: the range already has a default group',
  })
  async update(
    @Param('id', uuidParam('id')) id: string,
    @Body() dto: UpdateClientGroupDto,
    @IfMatch() ifMatch?: VersionPrecondition,
  ): Promise<ClientGroupResponseDto> {
    return ClientGroupResponseDto.from(await this.groups.update(id, dto, ifMatch));
  }

  @Delete(':id')
  @Auth(Role.Operator)
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an empty client group' })
  @ApiNoContentResponse()
  @ApiErrors({ 400: 'INVALID_UUID', 404: 'GROUP_NOT_FOUND', 409: 'GROUP_IN_USE: the group still has clients (move or delete them first)' })
  async remove(@Param('id', uuidParam('id')) id: string): Promise<void> {
    await this.groups.remove(id);
  }
}
