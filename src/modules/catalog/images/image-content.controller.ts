import { Body, Controller, Delete, HttpCode, Param, ParseUUIDPipe, Post, Put, Query, Req } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { api } from '@common/api';
import { Auth } from '@common/auth/auth.decorators';
import { ApiErrors } from '@common/errors/api-errors.decorator';
import { Role } from '@common/auth/role';
import { ValidationError } from '@common/errors/domain-error';
import { ImageResponseDto } from './dto/image.response.dto';
import { BlankContentDto, ContentFormatQuery, ImportContentDto, MaintenanceDto } from './dto/image-content.dto';
import { ImageContentService } from './image-content.service';
import { ImageVersionsService } from '../versions/image-versions.service';

const BUSY = 'IMAGE_BUSY or IMPORT_IN_PROGRESS: another upload, import or delete of this image runs';

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
  @ApiOkResponse({ type: ImageResponseDto, description: 'the image, content ready' })
  @ApiErrors({
    400: 'VALIDATION_FAILED (format), BAD_CONTENT_TYPE, UPLOAD_EMPTY, UPLOAD_ABORTED or STORAGE_IMAGE_FORMAT_INVALID (naming the reason)',
    404: 'IMAGE_NOT_FOUND',
    409: BUSY,
    503: 'storage unavailable',
    507: true,
  })
  upload(@Param('id', ParseUUIDPipe) id: string, @Query() q: ContentFormatQuery, @Req() req: Request): Promise<ImageResponseDto> {
    const type = (req.headers['content-type'] ?? 'application/octet-stream').split(';')[0].trim();
    if (type === 'application/json') throw new ValidationError('BAD_CONTENT_TYPE', 'send the disk file as application/octet-stream');
    const len = req.headers['content-length'];
    return this.content.upload(id, q.format, req, len !== undefined ? Number(len) : undefined).then(ImageResponseDto.from);
  }

  @Post(':id/content/blank')
  @HttpCode(200)
  @Auth(Role.Admin)
  @ApiOperation({ summary: 'give the image a blank (sparse) raw disk of sizeBytes' })
  @ApiOkResponse({ type: ImageResponseDto, description: 'the image, content ready' })
  @ApiErrors({ 400: 'VALIDATION_FAILED or INVALID_SIZE', 404: 'IMAGE_NOT_FOUND', 409: BUSY, 503: 'storage unavailable', 507: true })
  blank(@Param('id', ParseUUIDPipe) id: string, @Body() dto: BlankContentDto): Promise<ImageResponseDto> {
    return this.content.createBlank(id, dto.sizeBytes).then(ImageResponseDto.from);
  }

  @Post(':id/import')
  @HttpCode(200)
  @Auth(Role.Admin)
  @ApiOperation({ summary: 'import the disk content from a file on the server (inside DLS_IMPORT_DIR)' })
  @ApiOkResponse({ type: ImageResponseDto, description: 'the image, content ready' })
  @ApiErrors({
    400: 'VALIDATION_FAILED, IMPORT_SOURCE_INVALID (a path outside DLS_IMPORT_DIR, not a regular file) or STORAGE_IMAGE_FORMAT_INVALID',
    404: 'IMAGE_NOT_FOUND or IMPORT_SOURCE_NOT_FOUND',
    409: BUSY,
    503: 'storage unavailable',
    507: true,
  })
  import(@Param('id', ParseUUIDPipe) id: string, @Body() dto: ImportContentDto): Promise<ImageResponseDto> {
    return this.content.importFromPath(id, dto.path, dto.format).then(ImageResponseDto.from);
  }

  @Post(':id/maintenance')
  @HttpCode(200)
  @Auth(Role.Operator)
  @ApiOperation({ summary: 'make a client the maintenance client: it boots a persistent writable clone of the newest version' })
  @ApiOkResponse({ type: ImageResponseDto, description: 'the image, naming its maintenance client' })
  @ApiErrors({
    400: 'VALIDATION_FAILED or CLIENT_NOT_ON_IMAGE',
    404: 'IMAGE_NOT_FOUND or CLIENT_NOT_FOUND',
    409: 'MAINTENANCE_ACTIVE or IMAGE_HAS_NO_CONTENT (no version to maintain)',
  })
  startMaintenance(@Param('id', ParseUUIDPipe) id: string, @Body() dto: MaintenanceDto): Promise<ImageResponseDto> {
    return this.versions.startMaintenance(id, dto.clientId).then(ImageResponseDto.from);
  }

  @Delete(':id/maintenance')
  @Auth(Role.Operator)
  @ApiOperation({ summary: 'end maintenance (the maintenance disk is discarded; commit first to keep it)' })
  @ApiOkResponse({ type: ImageResponseDto, description: 'the image, without maintenance client' })
  @ApiErrors({ 400: 'id is not a UUID', 404: 'IMAGE_NOT_FOUND', 409: 'NO_MAINTENANCE_CLIENT' })
  stopMaintenance(@Param('id', ParseUUIDPipe) id: string): Promise<ImageResponseDto> {
    return this.versions.stopMaintenance(id).then(ImageResponseDto.from);
  }
}
