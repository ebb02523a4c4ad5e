import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, Put, Query, Req } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { api } from '../../common/api';
import { Auth, CurrentUser, Principal } from '../../common/auth/auth.decorators';
import { ValidationError } from '../../common/errors/domain-error';
import { ImageResponseDto } from '../images/dto/image.response.dto';
import { Role } from '../../common/auth/role';
import { ClientDisksService } from './client-disks.service';
import { ImageContentService } from './image-content.service';
import { ImageVersionsService } from './image-versions.service';
import { BlankContentDto, CommitVersionDto, ContentFormatQuery, ImportContentDto, MaintenanceDto, ReconcileDto } from './storage.dto';
import { StorageService } from './storage.service';

@ApiTags('storage')
@Controller(api('storage'))
export class StorageController {
  constructor(private readonly storage: StorageService) {}

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

@ApiTags('images')
@Controller(api('images'))
export class ImageContentController {
  constructor(
    private readonly content: ImageContentService,
    private readonly versions: ImageVersionsService,
  ) {}

  @Put(':id/content')
  @Auth(Role.Admin)
  @ApiConsumes('application/octet-stream')
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiOperation({ summary: 'upload the disk content (streamed; raw, qcow2 or vhdx → stored as raw)' })
  upload(@Param('id', ParseUUIDPipe) id: string, @Query() q: ContentFormatQuery, @Req() req: Request) {
    const type = (req.headers['content-type'] ?? 'application/octet-stream').split(';')[0].trim();
    if (type === 'application/json') throw new ValidationError('BAD_CONTENT_TYPE', 'send the disk file as application/octet-stream');
    const len = req.headers['content-length'];
    return this.content.upload(id, q.format, req, len !== undefined ? Number(len) : undefined).then(ImageResponseDto.from);
  }

  @Post(':id/content/blank')
  @HttpCode(200)
  @Auth(Role.Admin)
  @ApiOperation({ summary: 'give the image a blank (sparse) raw disk of sizeBytes' })
  blank(@Param('id', ParseUUIDPipe) id: string, @Body() dto: BlankContentDto) {
    return this.content.createBlank(id, dto.sizeBytes).then(ImageResponseDto.from);
  }

  @Post(':id/import')
  @HttpCode(200)
  @Auth(Role.Admin)
  @ApiOperation({ summary: 'import the disk content from a file on the server' })
  import(@Param('id', ParseUUIDPipe) id: string, @Body() dto: ImportContentDto) {
    return this.content.importFromPath(id, dto.path, dto.format).then(ImageResponseDto.from);
  }

  @Post(':id/maintenance')
  @HttpCode(200)
  @Auth(Role.Operator)
  @ApiOperation({ summary: 'make a client the maintenance client: it boots a persistent writable clone of the newest version' })
  startMaintenance(@Param('id', ParseUUIDPipe) id: string, @Body() dto: MaintenanceDto) {
    return this.versions.startMaintenance(id, dto.clientId).then(ImageResponseDto.from);
  }

  @Delete(':id/maintenance')
  @Auth(Role.Operator)
  @ApiOperation({ summary: 'end maintenance (the maintenance disk is discarded; commit first to keep it)' })
  stopMaintenance(@Param('id', ParseUUIDPipe) id: string) {
    return this.versions.stopMaintenance(id).then(ImageResponseDto.from);
  }

  @Post(':id/snapshots/commit')
  @Auth(Role.Operator)
  @ApiOperation({ summary: "turn the maintenance client's disk into a new (unpublished) version" })
  commit(@Param('id', ParseUUIDPipe) id: string, @Body() dto: CommitVersionDto, @CurrentUser() user: Principal) {
    return this.versions.commit(id, dto.name, dto.description ?? null, user?.id ?? null);
  }
}

@ApiTags('clients')
@Controller(api('clients'))
export class ClientDiskController {
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
