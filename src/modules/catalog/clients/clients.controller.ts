import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Req } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
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
import { Role } from '@common/auth/role';
import { ClientsService } from './clients.service';
import { ClientActionsService } from './client-actions.service';
import { ClientActionDto, ClientActionResponseDto } from './dto/client-action.dto';
import { ClientPageDto, ClientResponseDto } from './dto/client.response.dto';
import { CreateClientDto } from './dto/create-client.dto';
import { ListClientsQueryDto } from './dto/list-clients.query.dto';
import { UpdateClientDto } from './dto/update-client.dto';

@ApiTags('clients')
@Controller(api('clients'))
@Auth(Role.Viewer)
export class ClientsController {
  constructor(
    private readonly clients: ClientsService,
    private readonly actions: ClientActionsService,
  ) {}

  @Get()
  @ApiOkResponse({ type: ClientPageDto })
  async list(@Query() q: ListClientsQueryDto): Promise<Page<ClientResponseDto>> {
    return mapPage(await this.clients.list(q), ClientResponseDto.from);
  }

  /** Hot path (boot plane and tooling): one indexed lookup. */
  @Get('by-mac/:mac')
  @ApiOkResponse({ type: ClientResponseDto })
  @ApiBadRequestResponse({ description: 'not a MAC address' })
  @ApiNotFoundResponse()
  async byMac(@Param('mac') mac: string): Promise<ClientResponseDto> {
    return ClientResponseDto.from(await this.clients.getByMac(mac));
  }

  @Get(':id')
  @ApiOkResponse({ type: ClientResponseDto })
  @ApiNotFoundResponse()
  async get(@Param('id', uuidParam('id')) id: string): Promise<ClientResponseDto> {
    return ClientResponseDto.from(await this.clients.get(id));
  }

  @Post()
  @Auth(Role.Operator)
  @ApiCreatedResponse({ type: ClientResponseDto })
  @ApiBadRequestResponse()
  @ApiNotFoundResponse({ description: 'assignedImageId does not exist' })
  @ApiConflictResponse({ description: 'MAC address already registered' })
  async create(@Body() dto: CreateClientDto): Promise<ClientResponseDto> {
    return ClientResponseDto.from(await this.clients.create(dto));
  }

  /** All-or-nothing registration of 1..1000 clients; per-row problems in `details.rows` of the 400. */
  @Post('bulk')
  @Auth(Role.Operator)
  @ApiBody({ type: [CreateClientDto] })
  @ApiCreatedResponse({ type: ClientPageDto })
  @ApiBadRequestResponse({ description: 'BULK_VALIDATION_FAILED with details.rows [{ index, field, message }]' })
  async bulk(@Body() body: unknown): Promise<Page<ClientResponseDto>> {
    const created = await this.clients.createMany(body);
    return { items: created.map(ClientResponseDto.from), total: created.length };
  }

  /** One action on up to 1000 clients: database changes all-or-nothing, side effects per client, one audit entry. */
  @Post('actions')
  @Auth(Role.Operator)
  @HttpCode(200)
  @ApiOperation({ summary: 'Run one action on a selection of clients (ids, a group or a filter)' })
  @ApiOkResponse({ type: ClientActionResponseDto })
  @ApiBadRequestResponse({ description: 'BULK_ACTION_INVALID (details.clients: [{ clientId, hostname, code, message }]) or SELECTION_TOO_LARGE' })
  @ApiNotFoundResponse({ description: 'groupId, targetGroupId, imageId or pinnedSnapshotId does not exist' })
  async act(@Body() dto: ClientActionDto, @Req() req: { auditDetails?: Record<string, unknown> }): Promise<ClientActionResponseDto> {
    const r = await this.actions.run(dto);
    req.auditDetails = { clients: r.results.map((x) => x.clientId), failed: r.results.filter((x) => x.status === 'failed').map((x) => x.clientId) };
    return r;
  }

  @Patch(':id')
  @Auth(Role.Operator)
  @ApiOkResponse({ type: ClientResponseDto })
  @ApiBadRequestResponse()
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'MAC address already registered' })
  async update(@Param('id', uuidParam('id')) id: string, @Body() dto: UpdateClientDto): Promise<ClientResponseDto> {
    return ClientResponseDto.from(await this.clients.update(id, dto));
  }

  @Delete(':id')
  @Auth(Role.Operator)
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiNotFoundResponse()
  async remove(@Param('id', uuidParam('id')) id: string): Promise<void> {
    await this.clients.remove(id);
  }
}
