import { Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, Put } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { api } from '@common/api';
import { Auth } from '@common/auth/auth.decorators';
import { ApiErrors } from '@common/errors/api-errors.decorator';
import { Role } from '@common/auth/role';
import { ClientDisksService } from './client-disks.service';
import { ClientDiskDto } from './dto/client-disk.dto';

/** A client's copy-on-write disk (`/api/v1/clients/:id/disk`). */
@ApiTags('clients')
@Controller(api('clients'))
export class ClientDisksController {
  constructor(private readonly disks: ClientDisksService) {}

  @Put(':id/disk')
  @Auth(Role.Operator)
  @ApiOperation({ summary: 'ensure the client has a disk of the version it boots' })
  @ApiOkResponse({ type: ClientDiskDto })
  @ApiErrors({
    400: 'id is not a UUID',
    404: 'CLIENT_NOT_FOUND or IMAGE_NOT_FOUND',
    409: 'CLIENT_HAS_NO_IMAGE or NO_BOOTABLE_VERSION',
    503: 'storage unavailable',
    507: true,
  })
  ensure(@Param('id', ParseUUIDPipe) id: string): Promise<ClientDiskDto> {
    return this.disks.ensure(id);
  }

  @Get(':id/disk')
  @Auth(Role.Viewer)
  @ApiOperation({ summary: "describe the client's disk" })
  @ApiOkResponse({ type: ClientDiskDto })
  @ApiErrors({ 400: 'id is not a UUID', 404: 'CLIENT_NOT_FOUND or CLIENT_DISK_NOT_FOUND (the client has no disk)' })
  describe(@Param('id', ParseUUIDPipe) id: string): Promise<ClientDiskDto> {
    return this.disks.describe(id);
  }

  @Post(':id/disk/reset')
  @HttpCode(200)
  @Auth(Role.Operator)
  @ApiOperation({ summary: "discard the client's writes (fresh clone)" })
  @ApiOkResponse({ type: ClientDiskDto })
  @ApiErrors({
    400: 'id is not a UUID',
    404: 'CLIENT_NOT_FOUND or IMAGE_NOT_FOUND',
    409: 'CLIENT_HAS_NO_IMAGE or NO_BOOTABLE_VERSION',
    503: 'storage unavailable',
    507: true,
  })
  reset(@Param('id', ParseUUIDPipe) id: string): Promise<ClientDiskDto> {
    return this.disks.reset(id);
  }

  @Delete(':id/disk')
  @HttpCode(204)
  @Auth(Role.Operator)
  @ApiOperation({ summary: "remove the client's disk (unexported first; idempotent)" })
  @ApiNoContentResponse()
  @ApiErrors({ 400: 'id is not a UUID', 404: 'CLIENT_NOT_FOUND', 503: 'storage unavailable' })
  async remove(@Param('id', ParseUUIDPipe) id: string): Promise<void> {
    await this.disks.destroy(id);
  }
}
