import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth } from '@common/auth/auth.decorators';
import { api } from '@common/api';
import { ApiErrors } from '@common/errors/api-errors.decorator';
import { ETagged, IfMatch } from '@common/etag/etag.decorators';
import type { VersionPrecondition } from '@common/etag/etag';
import { mapPage, Page, uuidParam } from '@common/pagination';
import { Role } from '@common/auth/role';
import { CreateNetworkRangeDto } from './dto/create-network-range.dto';
import { NetworkRangePageDto, NetworkRangeResponseDto } from './dto/network-range.response.dto';
import { UpdateNetworkRangeDto } from './dto/update-network-range.dto';
import { ListNetworkRangesQueryDto } from './dto/list-network-ranges.query.dto';
import { NetworkRangesService } from './network-ranges.service';

@ApiTags('network-ranges')
@Controller(api('network-ranges'))
@Auth(Role.Viewer)
export class NetworkRangesController {
  constructor(private readonly ranges: NetworkRangesService) {}

  @Get()
  @ApiOperation({ summary: 'List network ranges' })
  @ApiOkResponse({ type: NetworkRangePageDto })
  @ApiErrors({ 400: true })
  async list(@Query() q: ListNetworkRangesQueryDto): Promise<Page<NetworkRangeResponseDto>> {
    return mapPage(await this.ranges.list(q), NetworkRangeResponseDto.from);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a network range' })
  @ETagged(NetworkRangeResponseDto)
  @ApiErrors({ 400: 'INVALID_UUID', 404: 'NETWORK_RANGE_NOT_FOUND' })
  async get(@Param('id', uuidParam('id')) id: string): Promise<NetworkRangeResponseDto> {
    return NetworkRangeResponseDto.from(await this.ranges.get(id));
  }

  @Post()
  @Auth(Role.Admin)
  @ApiOperation({ summary: 'Create a network range (a boot network)' })
  @ETagged(NetworkRangeResponseDto, 201)
  @ApiErrors({
    400: 'VALIDATION_FAILED or NETWORK_RANGE_INVALID (details.fields)',
    409: 'name taken, or NETWORK_RANGE_OVERLAP: the CIDR overlaps another range',
  })
  async create(@Body() dto: CreateNetworkRangeDto): Promise<NetworkRangeResponseDto> {
    return NetworkRangeResponseDto.from(await this.ranges.create(dto));
  }

  @Patch(':id')
  @Auth(Role.Admin)
  @ApiOperation({ summary: 'Change a network range (If-Match: only while it is at that version)' })
  @ETagged(NetworkRangeResponseDto)
  @ApiErrors({
    400: 'VALIDATION_FAILED, FIELD_NOT_NULLABLE, NETWORK_RANGE_INVALID (details.fields) or INVALID_IF_MATCH',
    404: 'NETWORK_RANGE_NOT_FOUND',
    409: 'name taken, or NETWORK_RANGE_OVERLAP: the CIDR overlaps another range',
  })
  async update(
    @Param('id', uuidParam('id')) id: string,
    @Body() dto: UpdateNetworkRangeDto,
    @IfMatch() ifMatch?: VersionPrecondition,
  ): Promise<NetworkRangeResponseDto> {
    return NetworkRangeResponseDto.from(await this.ranges.update(id, dto, ifMatch));
  }

  @Delete(':id')
  @Auth(Role.Admin)
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a network range' })
  @ApiNoContentResponse()
  @ApiErrors({ 400: 'INVALID_UUID', 404: 'NETWORK_RANGE_NOT_FOUND' })
  async remove(@Param('id', uuidParam('id')) id: string): Promise<void> {
    await this.ranges.remove(id);
  }
}
