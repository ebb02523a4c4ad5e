import { Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, Put } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { api } from '@common/api';
import { Auth } from '@common/auth/auth.decorators';
import { Role } from '@common/auth/role';
import { ClientDisksService } from './client-disks.service';

/** A client's copy-on-write disk (`/api/v1/clients/:id/disk`). */
@ApiTags('clients')
@Controller(api('clients'))
export class ClientDisksController {
  constructor(private readonly disks: ClientDisksService) {}

  @Put(':id/disk')
  @Auth(Role.Operator)
  @ApiOperation({ summary: 'ensure the client has a disk of the version it boots' })
  ensure(@Param('id', ParseUUIDPipe) id: string) {
    return this.disks.ensure(id);
  }

  @Get(':id/disk')
  @Auth(Role.Viewer)
  describe(@Param('id', ParseUUIDPipe) id: string) {
    return this.disks.describe(id);
  }

  @Post(':id/disk/reset')
  @HttpCode(200)
  @Auth(Role.Operator)
  @ApiOperation({ summary: "discard the client's writes (fresh clone)" })
  reset(@Param('id', ParseUUIDPipe) id: string) {
    return this.disks.reset(id);
  }

  @Delete(':id/disk')
  @HttpCode(204)
  @Auth(Role.Operator)
  async remove(@Param('id', ParseUUIDPipe) id: string): Promise<void> {
    await this.disks.destroy(id);
  }
}
