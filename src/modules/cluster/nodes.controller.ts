import { Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { api } from '@common/api';
import { Auth } from '@common/auth/auth.decorators';
import { Role } from '@common/auth/role';
import { ApiErrors } from '@common/errors/api-errors.decorator';
import { uuidParam } from '@common/pagination';
import { ClusterService } from './cluster.service';
import { NodeResponseDto } from './dto/node.response.dto';

/** The DLS nodes sharing this database (`/api/v1/nodes`): any node's API shows them all. */
@ApiTags('nodes')
@Controller(api('nodes'))
@Auth(Role.Viewer)
export class NodesController {
  constructor(private readonly cluster: ClusterService) {}

  @Get()
  @ApiOperation({ summary: 'List the nodes with their health, the ranges each answers DHCP for and their running clients' })
  @ApiOkResponse({ type: NodeResponseDto, isArray: true })
  async list(): Promise<NodeResponseDto[]> {
    return (await this.cluster.list()).map(NodeResponseDto.from);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a node' })
  @ApiOkResponse({ type: NodeResponseDto })
  @ApiErrors({ 400: 'INVALID_UUID', 404: 'NODE_NOT_FOUND' })
  async get(@Param('id', uuidParam('id')) id: string): Promise<NodeResponseDto> {
    return NodeResponseDto.from(await this.cluster.get(id));
  }

  @Post(':id/drain')
  @HttpCode(200)
  @Auth(Role.Admin)
  @ApiOperation({ summary: 'Drain a node: it hands its ranges to the other nodes and takes none; its running clients keep their disks' })
  @ApiOkResponse({ type: NodeResponseDto })
  @ApiErrors({ 400: 'INVALID_UUID', 404: 'NODE_NOT_FOUND', 409: 'NODE_STOPPED' })
  async drain(@Param('id', uuidParam('id')) id: string): Promise<NodeResponseDto> {
    return NodeResponseDto.from(await this.cluster.setState(id, 'draining'));
  }

  @Post(':id/activate')
  @HttpCode(200)
  @Auth(Role.Admin)
  @ApiOperation({ summary: 'Let a drained node take ranges again' })
  @ApiOkResponse({ type: NodeResponseDto })
  @ApiErrors({ 400: 'INVALID_UUID', 404: 'NODE_NOT_FOUND', 409: 'NODE_STOPPED' })
  async activate(@Param('id', uuidParam('id')) id: string): Promise<NodeResponseDto> {
    return NodeResponseDto.from(await this.cluster.setState(id, 'active'));
  }

  @Delete(':id')
  @HttpCode(204)
  @Auth(Role.Admin)
  @ApiOperation({ summary: 'Forget a node that is down or stopped (a running node is 409)' })
  @ApiNoContentResponse()
  @ApiErrors({ 400: 'INVALID_UUID', 404: 'NODE_NOT_FOUND', 409: 'NODE_ALIVE' })
  async remove(@Param('id', uuidParam('id')) id: string): Promise<void> {
    await this.cluster.remove(id);
  }
}
