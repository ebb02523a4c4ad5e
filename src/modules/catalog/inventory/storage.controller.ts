import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { api } from '@common/api';
import { Auth } from '@common/auth/auth.decorators';
import { Role } from '@common/auth/role';
import { ReconcileDto } from './reconcile.dto';
import { StorageInventoryService } from './storage-inventory.service';

/** Storage as a whole (`/api/v1/storage`): accounting and reconcile. */
@ApiTags('storage')
@Controller(api('storage'))
export class StorageController {
  constructor(private readonly storage: StorageInventoryService) {}

  @Get()
  @Auth(Role.Viewer)
  @ApiOperation({ summary: 'driver, clone method (zfs-clone / reflink / copy), pool space, per-image and per-client accounting' })
  status() {
    return this.storage.status();
  }

  @Post('reconcile')
  @HttpCode(200)
  @Auth(Role.Admin)
  @ApiOperation({ summary: 'compare DLS-tagged storage with the database; remove orphans only when asked' })
  reconcile(@Body() dto: ReconcileDto) {
    return this.storage.reconcile(dto.removeOrphans ?? false);
  }
}
