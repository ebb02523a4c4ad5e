import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Req } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth } from '@common/auth/auth.decorators';
import { api } from '@common/api';
import { ApiErrors } from '@common/errors/api-errors.decorator';
import { ETagged, IfMatch } from '@common/etag/etag.decorators';
import type { VersionPrecondition } from '@common/etag/etag';
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
  @ApiOperation({ summary: 'List clients (filters, sort, q)' })
  @ApiOkResponse({ type: ClientPageDto })
  @ApiErrors({ 400: true })
  async list(@Query() q: ListClientsQueryDto): Promise<Page<ClientResponseDto>> {
    return mapPage(await this.clients.list(q), ClientResponseDto.from);
  }

  /** Hot path (boot plane and tooling): one indexed lookup. */
  @Get('by-mac/:mac')
  @ApiOperation({ summary: 'Get the client with a MAC address (any common notation)' })
  @ApiOkResponse({ type: ClientResponseDto })
  @ApiErrors({ 400: 'INVALID_MAC: not a MAC address', 404: 'CLIENT_NOT_FOUND' })
  async byMac(@Param('mac') mac: string): Promise<ClientResponseDto> {
    return ClientResponseDto.from(await this.clients.getByMac(mac));
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a client, with its effective settings' })
  @ETagged(ClientResponseDto)
  @ApiErrors({ 400: 'INVALID_UUID', 404: 'CLIENT_NOT_FOUND' })
  async get(@Param('id', uuidParam('id')) id: string): Promise<ClientResponseDto> {
    return ClientResponseDto.from(await this.clients.get(id));
  }

  @Post()
  @Auth(Role.Operator)
  @ApiOperation({ summary: 'Register a client' })
  @ETagged(ClientResponseDto, 201)
  @ApiErrors({
    400: true,
    404: 'ASSIGNED_IMAGE_NOT_FOUND, GROUP_NOT_FOUND or PINNED_VERSION_NOT_FOUND',
    409: 'MAC_ALREADY_REGISTERED or IP_ADDRESS_ALREADY_RESERVED',
  })
  async create(@Body() dto: CreateClientDto): Promise<ClientResponseDto> {
    return ClientResponseDto.from(await this.clients.create(dto));
  }

  /** All-or-nothing registration of 1..1000 clients; per-row problems in `details.rows` of the 400. */
  @Post('bulk')
  @Auth(Role.Operator)
  @ApiOperation({ summary: 'Register 1..1000 clients, all or nothing' })
  @ApiBody({ type: [CreateClientDto] })
  @ApiCreatedResponse({ type: ClientPageDto })
  @ApiErrors({ 400: 'BULK_VALIDATION_FAILED with details.rows [{ index, field, message }]' })
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
  @ApiErrors({
    400: 'BULK_ACTION_INVALID (details.clients: [{ clientId, hostname, code, message }]) or SELECTION_TOO_LARGE',
    404: 'groupId, targetGroupId, imageId or pinnedSnapshotId does not exist',
  })
  async act(@Body() dto: ClientActionDto, @Req() req: { auditDetails?: Record<string, unknown> }): Promise<ClientActionResponseDto> {
    const r = await this.actions.run(dto);
    req.auditDetails = { clients: r.results.map((x) => x.clientId), failed: r.results.filter((x) => x.status === 'failed').map((x) => x.clientId) };
    return r;
  }

  @Patch(':id')
  @Auth(Role.Operator)
  @ApiOperation({ summary: 'Change a client (If-Match: only while it is at that version)' })
  @ETagged(ClientResponseDto)
  @ApiErrors({
    400: 'VALIDATION_FAILED, FIELD_NOT_NULLABLE or INVALID_IF_MATCH',
    404: 'CLIENT_NOT_FOUND, ASSIGNED_IMAGE_NOT_FOUND, GROUP_NOT_FOUND or PINNED_VERSION_NOT_FOUND',
    409: 'MAC_ALREADY_REGISTERED or IP_ADDRESS_ALREADY_RESERVED',
  })
  async update(
    @Param('id', uuidParam('id')) id: string,
    @Body() dto: UpdateClientDto,
    @IfMatch() ifMatch?: VersionPrecondition,
  ): Promise<ClientResponseDto> {
    return ClientResponseDto.from(await this.clients.update(id, dto, ifMatch));
  }

  @Delete(':id')
  @Auth(Role.Operator)
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a client and its disk' })
  @ApiNoContentResponse()
  @ApiErrors({ 400: 'INVALID_UUID', 404: 'CLIENT_NOT_FOUND' })
  async remove(@Param('id', uuidParam('id')) id: string): Promise<void> {
    await this.clients.remove(id);
  }
}
