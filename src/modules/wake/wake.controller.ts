import { Controller, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { api } from '@common/api';
import { Auth } from '@common/auth/auth.decorators';
import { Role } from '@common/auth/role';
import { uuidParam } from '@common/pagination';
import { ApiErrors } from '@common/errors/api-errors.decorator';
import { AppConfig } from '@config/config.loader';
import { ClientWakeResponseDto, GroupWakeResponseDto, WakeOutcomeDto } from './dto/wake-outcome.dto';
import { WakeService } from './wake.service';

const NOT_SENT =
  'not sent, the code says why: WAKE_NO_RANGE (no reservation, lease, boot or group default tells its network), WAKE_RANGE_DISABLED, ' +
  'WAKE_RANGE_NO_INTERFACE, WAKE_RANGE_DHCP_OFF, DHCP_DISABLED, RANGE_NOT_SERVED, INTERFACE_UNAVAILABLE (missing, down, no address), RANGE_RELAYED';

/** `POST /clients/:id/wake`: Wake-on-LAN for one client. */
@ApiTags('clients')
@Controller(api('clients'))
@Auth(Role.Operator)
export class ClientWakeController {
  constructor(
    private readonly waker: WakeService,
    private readonly config: AppConfig,
  ) {}

  @Post(':id/wake')
  @HttpCode(200)
  @ApiOperation({ summary: "Wake a client: a Wake-on-LAN magic packet, broadcast on its network range's interface" })
  @ApiOkResponse({ type: ClientWakeResponseDto })
  @ApiErrors({
    400: 'INVALID_UUID: id is not a UUID',
    404: 'CLIENT_NOT_FOUND',
    409: NOT_SENT,
    503: 'BROADCAST_FAILED: the kernel refused the datagram',
  })
  async wake(@Param('id', uuidParam('id')) id: string): Promise<ClientWakeResponseDto> {
    return Object.assign(new ClientWakeResponseDto(), await this.waker.wakeClient(id), { ports: [...this.config.wol.ports] });
  }
}

/** `POST /client-groups/:id/wake`: Wake-on-LAN for every member of a group. */
@ApiTags('client-groups')
@Controller(api('client-groups'))
@Auth(Role.Operator)
export class GroupWakeController {
  constructor(
    private readonly waker: WakeService,
    private readonly config: AppConfig,
  ) {}

  /** Members in hostname order, paced; one audit entry listing them. */
  @Post(':id/wake')
  @HttpCode(200)
  @ApiOperation({ summary: "Wake every client of a group, each on its own range's interface (paced by DLS_WOL_GAP_MS)" })
  @ApiOkResponse({ type: GroupWakeResponseDto, description: `per member: ok, or failed with a code (${NOT_SENT})` })
  @ApiErrors({ 400: 'INVALID_UUID: id is not a UUID', 404: 'GROUP_NOT_FOUND' })
  async wake(@Param('id', uuidParam('id')) id: string, @Req() req: { auditDetails?: Record<string, unknown> }): Promise<GroupWakeResponseDto> {
    const b = await this.waker.wakeGroup(id);
    req.auditDetails = { clients: b.clients.map((c) => c.clientId), failed: b.clients.filter((c) => c.status === 'failed').map((c) => c.clientId) };
    return Object.assign(new GroupWakeResponseDto(), {
      groupId: id,
      group: b.group,
      total: b.total,
      sent: b.sent,
      failed: b.failed,
      ports: [...this.config.wol.ports],
      results: b.clients.map(WakeOutcomeDto.from),
    });
  }
}
