import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Auth, CurrentUser, Principal } from '@common/auth/auth.decorators';
import { api } from '@common/api';
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
  @ApiOkResponse({ type: ImagePageDto })
  async list(@Query() q: ListImagesQueryDto): Promise<Page<ImageResponseDto>> {
    return mapPage(await this.images.list(q), ImageResponseDto.from);
  }

  @Get(':id')
  @ApiOkResponse({ type: ImageResponseDto })
  @ApiNotFoundResponse()
  async get(@Param('id', uuidParam('id')) id: string): Promise<ImageResponseDto> {
    return ImageResponseDto.from(await this.images.get(id));
  }

  @Get(':id/children')
  @ApiOkResponse({ type: ImagePageDto, description: 'direct children (clones) of the image' })
  @ApiNotFoundResponse()
  async children(@Param('id', uuidParam('id')) id: string, @Query() q: PaginationQueryDto): Promise<Page<ImageResponseDto>> {
    return mapPage(await this.images.children(id, q), ImageResponseDto.from);
  }

  @Post()
  @Auth(Role.Admin)
  @ApiCreatedResponse({ type: ImageResponseDto })
  @ApiBadRequestResponse()
  @ApiNotFoundResponse({ description: 'parentImageId does not exist' })
  @ApiConflictResponse({ description: 'name taken' })
  async create(@Body() dto: CreateImageDto, @CurrentUser() user?: Principal): Promise<ImageResponseDto> {
    return ImageResponseDto.from(await this.images.create(dto, user?.id));
  }

  @Patch(':id')
  @Auth(Role.Admin)
  @ApiOkResponse({ type: ImageResponseDto })
  @ApiBadRequestResponse({ description: 'validation, or the new parent would create a cycle' })
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'name taken' })
  async update(@Param('id', uuidParam('id')) id: string, @Body() dto: UpdateImageDto): Promise<ImageResponseDto> {
    return ImageResponseDto.from(await this.images.update(id, dto));
  }

  @Delete(':id')
  @Auth(Role.Admin)
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'clients, versions or open boot sessions depend on the image' })
  async remove(@Param('id', uuidParam('id')) id: string): Promise<void> {
    await this.images.remove(id);
  }
}
