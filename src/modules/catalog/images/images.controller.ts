import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth, CurrentUser, Principal } from '@common/auth/auth.decorators';
import { api } from '@common/api';
import { ApiErrors } from '@common/errors/api-errors.decorator';
import { ETagged, IfMatch } from '@common/etag/etag.decorators';
import type { VersionPrecondition } from '@common/etag/etag';
import { mapPage, Page, PaginationQueryDto, uuidParam } from '@common/pagination';
import { Role } from '@common/auth/role';
import { CreateImageDto } from './dto/create-image.dto';
import { ImagePageDto, ImageResponseDto } from './dto/image.response.dto';
import { ListImagesQueryDto } from './dto/list-images.query.dto';
import { UpdateImageDto } from './dto/update-image.dto';
import { ImagesService } from './images.service';

@ApiTags('images')
@Controller(api('images'))
@Auth(Role.Viewer)
export class ImagesController {
  constructor(private readonly images: ImagesService) {}

  @Get()
  @ApiOperation({ summary: 'List images (filters, sort, q)' })
  @ApiOkResponse({ type: ImagePageDto })
  @ApiErrors({ 400: true })
  async list(@Query() q: ListImagesQueryDto): Promise<Page<ImageResponseDto>> {
    return mapPage(await this.images.list(q), ImageResponseDto.from);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get an image' })
  @ETagged(ImageResponseDto)
  @ApiErrors({ 400: 'INVALID_UUID', 404: 'IMAGE_NOT_FOUND' })
  async get(@Param('id', uuidParam('id')) id: string): Promise<ImageResponseDto> {
    return ImageResponseDto.from(await this.images.get(id));
  }

  @Get(':id/children')
  @ApiOperation({ summary: 'List the direct children (clones) of an image' })
  @ApiOkResponse({ type: ImagePageDto, description: 'direct children (clones) of the image' })
  @ApiErrors({ 400: true, 404: 'IMAGE_NOT_FOUND' })
  async children(@Param('id', uuidParam('id')) id: string, @Query() q: PaginationQueryDto): Promise<Page<ImageResponseDto>> {
    return mapPage(await this.images.children(id, q), ImageResponseDto.from);
  }

  @Post()
  @Auth(Role.Admin)
  @ApiOperation({ summary: 'Create an image (its content comes later: upload, import or blank)' })
  @ETagged(ImageResponseDto, 201)
  @ApiErrors({ 400: true, 404: 'PARENT_IMAGE_NOT_FOUND: parentImageId does not exist', 409: 'name taken' })
  async create(@Body() dto: CreateImageDto, @CurrentUser() user?: Principal): Promise<ImageResponseDto> {
    return ImageResponseDto.from(await this.images.create(dto, user?.id));
  }

  @Patch(':id')
  @Auth(Role.Admin)
  @ApiOperation({ summary: 'Change an image (If-Match: only while it is at that version)' })
  @ETagged(ImageResponseDto)
  @ApiErrors({
    400: 'VALIDATION_FAILED, FIELD_NOT_NULLABLE, PARENT_IMAGE_CYCLE (the new parent would create a cycle) or INVALID_IF_MATCH',
    404: 'IMAGE_NOT_FOUND or PARENT_IMAGE_NOT_FOUND',
    409: 'name taken',
  })
  async update(
    @Param('id', uuidParam('id')) id: string,
    @Body() dto: UpdateImageDto,
    @IfMatch() ifMatch?: VersionPrecondition,
  ): Promise<ImageResponseDto> {
    return ImageResponseDto.from(await this.images.update(id, dto, ifMatch));
  }

  @Delete(':id')
  @Auth(Role.Admin)
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an image and its storage' })
  @ApiNoContentResponse()
  @ApiErrors({
    400: 'INVALID_UUID',
    404: 'IMAGE_NOT_FOUND',
    409:
      'IMAGE_IN_USE (clients or open boot sessions), IMAGE_HAS_VERSIONS or IMAGE_BUSY (an upload or import runs); ' +
      'details: clients assigned to it ([{ id, hostname }], at most 50), count (all of them), versions, openSessions',
  })
  async remove(@Param('id', uuidParam('id')) id: string): Promise<void> {
    await this.images.remove(id);
  }
}
