import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { api } from '@common/api';
import { Auth } from '@common/auth/auth.decorators';
import { ApiErrors } from '@common/errors/api-errors.decorator';
import { Role } from '@common/auth/role';
import { ReconcileDto, ReconcileReportDto } from './reconcile.dto';
import { StorageStatusDto } from './storage-status.dto';
import { StorageInventoryService } from './storage-inventory.service';

/** Storage as a whole (`/api/v1/storage`): accounting and reconcile. */
@ApiTags('storage')
@Controller(api('storage'))
export class StorageController {
  constructor(private readonly storage: StorageInventoryService) {}

  @Get()
  @Auth(Role.Viewer)
  @ApiOperation({ summary: 'driver, clone method (zfs-clone / reflink / copy), pool space, per-image and per-client accounting' })
  @ApiOkResponse({ type: StorageStatusDto })
  @ApiErrors({ 503: 'storage unavailable' })
  status(): Promise<StorageStatusDto> {
    return this.storage.status();
  }

  @Post('reconcile')
  @HttpCode(200)
  @Auth(Role.Admin)
  @ApiOperation({ summary: 'compare DLS-tagged storage with the database; remove orphans only when asked' })
  @ApiOkResponse({ type: ReconcileReportDto })
  @ApiErrors({ 400: true, 503: 'storage unavailable' })
  reconcile(@Body() dto: ReconcileDto): Promise<ReconcileReportDto> {
    return this.storage.reconcile(dto.removeOrphans ?? false);
  }
}
