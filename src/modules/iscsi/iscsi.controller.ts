import { Controller, Get, Param, ParseUUIDPipe } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { api } from '@common/api';
import { Auth } from '@common/auth/auth.decorators';
import { Role } from '@common/auth/role';
import { IscsiExportsService } from './iscsi-exports.service';

@ApiTags('clients')
@Controller(api('clients'))
export class IscsiController {
  constructor(private readonly exports: IscsiExportsService) {}

  @Get(':id/iscsi')
  @Auth(Role.Admin)
  @ApiOperation({ summary: "the client's iSCSI target, initiator name and CHAP credentials (admin only)" })
  credentials(@Param('id', ParseUUIDPipe) id: string) {
    return this.exports.credentials(id);
  }
}
