import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { Auth } from '@common/auth/auth.decorators';
import { api } from '@common/api';
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
  @ApiBadRequestResponse()
  async list(@Query() q: ListClientGroupsQueryDto): Promise<Page<ClientGroupResponseDto>> {
    return mapPage(await this.groups.list(q), ClientGroupResponseDto.from);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a client group' })
  @ApiOkResponse({ type: ClientGroupResponseDto })
  @ApiBadRequestResponse()
  @ApiNotFoundResponse()
  async get(@Param('id', uuidParam('id')) id: string): Promise<ClientGroupResponseDto> {
    return ClientGroupResponseDto.from(await this.groups.get(id));
  }

  @Post()
  @Auth(Role.Operator)
  @ApiOperation({ summary: 'Create a client group' })
  @ApiCreatedResponse({ type: ClientGroupResponseDto })
  @ApiBadRequestResponse()
  @ApiNotFoundResponse({ description: 'imageId, pinnedSnapshotId or defaultForRangeId does not exist' })
  @ApiConflictResponse({ description: 'name taken, or the range already has a default group' })
  async create(@Body() dto: CreateClientGroupDto): Promise<ClientGroupResponseDto> {
    return ClientGroupResponseDto.from(await this.groups.create(dto));
  }

  @Patch(':id')
  @Auth(Role.Operator)
  @ApiOperation({ summary: 'Change a client group (members follow at their next boot)' })
  @ApiOkResponse({ type: ClientGroupResponseDto })
  @ApiBadRequestResponse()
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'name taken, or the range already has a default group' })
  async update(@Param('id', uuidParam('id')) id: string, @Body() dto: UpdateClientGroupDto): Promise<ClientGroupResponseDto> {
    return ClientGroupResponseDto.from(await this.groups.update(id, dto));
  }

  @Delete(':id')
  @Auth(Role.Operator)
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an empty client group' })
  @ApiNoContentResponse()
  @ApiBadRequestResponse()
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'GROUP_IN_USE: the group still has clients (move or delete them first)' })
  async remove(@Param('id', uuidParam('id')) id: string): Promise<void> {
    await this.groups.remove(id);
  }
}
