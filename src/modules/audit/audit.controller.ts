import { Controller, Get, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { api } from '@common/api';
import { Auth } from '@common/auth/auth.decorators';
import { Role } from '@common/auth/role';
import { AuditService } from './audit.service';
import { AuditLogPageDto, ListAuditQueryDto } from './dto/audit-log.dto';

@ApiTags('audit')
@Auth(Role.Admin)
@Controller(api('audit'))
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @ApiOkResponse({ type: AuditLogPageDto })
  @ApiBadRequestResponse({ description: 'VALIDATION_FAILED or INVALID_TIME_RANGE' })
  list(@Query() q: ListAuditQueryDto): Promise<AuditLogPageDto> {
    return this.audit.list(q);
  }
}
