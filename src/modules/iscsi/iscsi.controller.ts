import { Controller, Get, Param, ParseUUIDPipe } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { api } from '@common/api';
import { Auth } from '@common/auth/auth.decorators';
import { ApiErrors } from '@common/errors/api-errors.decorator';
import { Role } from '@common/auth/role';
import { IscsiCredentialsDto } from './dto/iscsi-credentials.dto';
import { IscsiExportsService } from './iscsi-exports.service';

@ApiTags('clients')
@Controller(api('clients'))
export class IscsiController {
  constructor(private readonly exports: IscsiExportsService) {}

  @Get(':id/iscsi')
  @Auth(Role.Admin)
  @ApiOperation({ summary: "the client's iSCSI target, initiator name and CHAP credentials (admin only)" })
  @ApiOkResponse({ type: IscsiCredentialsDto })
  @ApiErrors({ 400: 'id is not a UUID', 404: 'ISCSI_EXPORT_NOT_FOUND: the client has no export' })
  credentials(@Param('id', ParseUUIDPipe) id: string): Promise<IscsiCredentialsDto> {
    return this.exports.credentials(id);
  }
}
