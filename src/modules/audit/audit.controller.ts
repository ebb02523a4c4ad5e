import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { api } from '@common/api';
import { ApiErrors } from '@common/errors/api-errors.decorator';
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
  @ApiOperation({ summary: 'List audit entries (filters, time range, sort, q)' })
  @ApiOkResponse({ type: AuditLogPageDto })
  @ApiErrors({ 400: 'VALIDATION_FAILED, INVALID_TIME_RANGE or INVALID_STATUS_RANGE' })
  list(@Query() q: ListAuditQueryDto): Promise<AuditLogPageDto> {
    return this.audit.list(q);
  }
}
