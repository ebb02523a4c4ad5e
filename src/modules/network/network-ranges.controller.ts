import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Auth } from '@common/auth/auth.decorators';
import { api } from '@common/api';
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
  @ApiOkResponse({ type: NetworkRangePageDto })
  async list(@Query() q: ListNetworkRangesQueryDto): Promise<Page<NetworkRangeResponseDto>> {
    return mapPage(await this.ranges.list(q), NetworkRangeResponseDto.from);
  }

  @Get(':id')
  @ApiOkResponse({ type: NetworkRangeResponseDto })
  @ApiNotFoundResponse()
  async get(@Param('id', uuidParam('id')) id: string): Promise<NetworkRangeResponseDto> {
    return NetworkRangeResponseDto.from(await this.ranges.get(id));
  }

  @Post()
  @Auth(Role.Admin)
  @ApiCreatedResponse({ type: NetworkRangeResponseDto })
  @ApiBadRequestResponse()
  @ApiConflictResponse({ description: 'name taken or CIDR overlaps another range' })
  async create(@Body() dto: CreateNetworkRangeDto): Promise<NetworkRangeResponseDto> {
    return NetworkRangeResponseDto.from(await this.ranges.create(dto));
  }

  @Patch(':id')
  @Auth(Role.Admin)
  @ApiOkResponse({ type: NetworkRangeResponseDto })
  @ApiBadRequestResponse()
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'name taken or CIDR overlaps another range' })
  async update(@Param('id', uuidParam('id')) id: string, @Body() dto: UpdateNetworkRangeDto): Promise<NetworkRangeResponseDto> {
    return NetworkRangeResponseDto.from(await this.ranges.update(id, dto));
  }

  @Delete(':id')
  @Auth(Role.Admin)
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiNotFoundResponse()
  async remove(@Param('id', uuidParam('id')) id: string): Promise<void> {
    await this.ranges.remove(id);
  }
}
