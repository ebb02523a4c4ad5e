import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { api } from '@common/api';
import { Auth } from '@common/auth/auth.decorators';
import { Role } from '@common/auth/role';
import { Page, uuidParam } from '@common/pagination';
import { LeaseDto, LeasePageDto, ListLeasesQueryDto, PoolUtilisationDto } from './dto/range-leases.dto';
import { RangeLeasesService } from './range-leases.service';

/** A network range's DHCP leases and pool utilisation (the leases table belongs to the boot plane). */
@ApiTags('network-ranges')
@Controller(api('network-ranges'))
@Auth(Role.Viewer)
export class RangeLeasesController {
  constructor(private readonly leases: RangeLeasesService) {}

  @Get(':id/leases')
  @ApiOperation({ summary: "List a range's DHCP leases by address" })
  @ApiOkResponse({ type: LeasePageDto })
  @ApiBadRequestResponse()
  @ApiNotFoundResponse()
  async list(@Param('id', uuidParam('id')) id: string, @Query() q: ListLeasesQueryDto): Promise<Page<LeaseDto>> {
    return this.leases.list(id, q);
  }

  @Get(':id/utilisation')
  @ApiOperation({ summary: "How full a range's address pool is" })
  @ApiOkResponse({ type: PoolUtilisationDto })
  @ApiBadRequestResponse()
  @ApiNotFoundResponse()
  async utilisation(@Param('id', uuidParam('id')) id: string): Promise<PoolUtilisationDto> {
    return this.leases.utilisation(id);
  }
}
