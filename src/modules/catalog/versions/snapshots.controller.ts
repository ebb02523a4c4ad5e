import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { Auth, CurrentUser, Principal } from '@common/auth/auth.decorators';
import { api } from '@common/api';
import { mapPage, Page, PaginationQueryDto, uuidParam } from '@common/pagination';
import { Role } from '@common/auth/role';
import { CommitVersionDto } from './dto/commit-version.dto';
import { CreateSnapshotDto } from './dto/create-snapshot.dto';
import { ImageVersionsService } from './image-versions.service';
import { SnapshotPageDto, SnapshotResponseDto } from './dto/snapshot.response.dto';
import { SnapshotsService } from './snapshots.service';

@ApiTags('snapshots')
@Controller(api('images/:imageId/snapshots'))
@Auth(Role.Viewer)
export class SnapshotsController {
  constructor(
    private readonly snapshots: SnapshotsService,
    private readonly versions: ImageVersionsService,
  ) {}

  @Get()
  @ApiOkResponse({ type: SnapshotPageDto })
  @ApiNotFoundResponse()
  async list(@Param('imageId', uuidParam('imageId')) imageId: string, @Query() q: PaginationQueryDto): Promise<Page<SnapshotResponseDto>> {
    return mapPage(await this.snapshots.list(imageId, q), SnapshotResponseDto.from);
  }

  @Get(':snapshotId')
  @ApiOkResponse({ type: SnapshotResponseDto })
  @ApiNotFoundResponse()
  async get(
    @Param('imageId', uuidParam('imageId')) imageId: string,
    @Param('snapshotId', uuidParam('snapshotId')) snapshotId: string,
  ): Promise<SnapshotResponseDto> {
    return SnapshotResponseDto.from(await this.snapshots.get(imageId, snapshotId));
  }

  @Post()
  @Auth(Role.Operator)
  @ApiCreatedResponse({ type: SnapshotResponseDto })
  @ApiBadRequestResponse()
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'the image already has a version with that name' })
  async create(
    @Param('imageId', uuidParam('imageId')) imageId: string,
    @Body() dto: CreateSnapshotDto,
    @CurrentUser() user?: Principal,
  ): Promise<SnapshotResponseDto> {
    return SnapshotResponseDto.from(await this.snapshots.create(imageId, dto, user?.id));
  }

  @Post('commit')
  @Auth(Role.Operator)
  @ApiOperation({ summary: "turn the maintenance client's disk into a new (unpublished) version" })
  commit(@Param('imageId', ParseUUIDPipe) imageId: string, @Body() dto: CommitVersionDto, @CurrentUser() user: Principal) {
    return this.versions.commit(imageId, dto.name, dto.description ?? null, user?.id ?? null);
  }

  @Post(':snapshotId/publish')
  @Auth(Role.Operator)
  @HttpCode(200)
  @ApiOkResponse({ type: SnapshotResponseDto, description: 'now the published version (idempotent)' })
  @ApiNotFoundResponse()
  async publish(
    @Param('imageId', uuidParam('imageId')) imageId: string,
    @Param('snapshotId', uuidParam('snapshotId')) snapshotId: string,
  ): Promise<SnapshotResponseDto> {
    return SnapshotResponseDto.from(await this.snapshots.publish(imageId, snapshotId));
  }

  @Delete(':snapshotId')
  @Auth(Role.Operator)
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'PUBLISHED_VERSION: the published version cannot be deleted' })
  async remove(
    @Param('imageId', uuidParam('imageId')) imageId: string,
    @Param('snapshotId', uuidParam('snapshotId')) snapshotId: string,
  ): Promise<void> {
    await this.snapshots.remove(imageId, snapshotId);
  }
}
