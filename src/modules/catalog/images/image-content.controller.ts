import { Body, Controller, Delete, HttpCode, Param, ParseUUIDPipe, Post, Put, Query, Req } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { api } from '@common/api';
import { Auth } from '@common/auth/auth.decorators';
import { Role } from '@common/auth/role';
import { ValidationError } from '@common/errors/domain-error';
import { ImageResponseDto } from './dto/image.response.dto';
import { BlankContentDto, ContentFormatQuery, ImportContentDto, MaintenanceDto } from './dto/image-content.dto';
import { ImageContentService } from './image-content.service';
import { ImageVersionsService } from '../versions/image-versions.service';

/** Disk content of an image and its maintenance client (`/api/v1/images/:id/content|import|maintenance`). */
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
}
