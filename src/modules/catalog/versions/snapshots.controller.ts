import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth, CurrentUser, Principal } from '@common/auth/auth.decorators';
import { api } from '@common/api';
import { ApiErrors } from '@common/errors/api-errors.decorator';
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
  @ApiOperation({ summary: "List an image's versions" })
  @ApiOkResponse({ type: SnapshotPageDto })
  @ApiErrors({ 400: true, 404: 'IMAGE_NOT_FOUND' })
  async list(@Param('imageId', uuidParam('imageId')) imageId: string, @Query() q: PaginationQueryDto): Promise<Page<SnapshotResponseDto>> {
    return mapPage(await this.snapshots.list(imageId, q), SnapshotResponseDto.from);
  }

  @Get(':snapshotId')
  @ApiOperation({ summary: 'Get a version of an image' })
  @ApiOkResponse({ type: SnapshotResponseDto })
  @ApiErrors({ 400: 'INVALID_UUID', 404: 'IMAGE_NOT_FOUND or SNAPSHOT_NOT_FOUND' })
  async get(
    @Param('imageId', uuidParam('imageId')) imageId: string,
    @Param('snapshotId', uuidParam('snapshotId')) snapshotId: string,
  ): Promise<SnapshotResponseDto> {
    return SnapshotResponseDto.from(await this.snapshots.get(imageId, snapshotId));
  }

  @Post()
  @Auth(Role.Operator)
  @ApiOperation({ summary: "Make a version of the image's current content (not published)" })
  @ApiCreatedResponse({ type: SnapshotResponseDto })
  @ApiErrors({
    400: true,
    404: 'IMAGE_NOT_FOUND',
    409: 'the image already has a version with that name, IMAGE_HAS_NO_CONTENT or MAINTENANCE_ACTIVE',
    503: 'storage unavailable',
    507: true,
  })
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
  @ApiCreatedResponse({ type: SnapshotResponseDto })
  @ApiErrors({
    400: true,
    404: 'IMAGE_NOT_FOUND',
    409: 'NO_MAINTENANCE_CLIENT, MAINTENANCE_DISK_MISSING or a version with that name exists',
    503: 'storage unavailable',
    507: true,
  })
  async commit(
    @Param('imageId', ParseUUIDPipe) imageId: string,
    @Body() dto: CommitVersionDto,
    @CurrentUser() user: Principal,
  ): Promise<SnapshotResponseDto> {
    return SnapshotResponseDto.from(await this.versions.commit(imageId, dto.name, dto.description ?? null, user?.id ?? null));
  }

  @Post(':snapshotId/publish')
  @Auth(Role.Operator)
  @HttpCode(200)
  @ApiOperation({ summary: 'Publish a version: what clients boot unless pinned (idempotent)' })
  @ApiOkResponse({ type: SnapshotResponseDto, description: 'now the published version (idempotent)' })
  @ApiErrors({ 400: 'INVALID_UUID', 404: 'IMAGE_NOT_FOUND or SNAPSHOT_NOT_FOUND' })
  async publish(
    @Param('imageId', uuidParam('imageId')) imageId: string,
    @Param('snapshotId', uuidParam('snapshotId')) snapshotId: string,
  ): Promise<SnapshotResponseDto> {
    return SnapshotResponseDto.from(await this.snapshots.publish(imageId, snapshotId));
  }

  @Delete(':snapshotId')
  @Auth(Role.Operator)
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a version (not the published one, nor one client disks use)' })
  @ApiNoContentResponse()
  @ApiErrors({
    400: 'INVALID_UUID',
    404: 'IMAGE_NOT_FOUND or SNAPSHOT_NOT_FOUND',
    409:
      'PUBLISHED_VERSION: the published version cannot be deleted; VERSION_IN_USE: client disks or pins depend on it. ' +
      'details.clients: the clients that use it ([{ id, hostname }], at most 50, by hostname; for the published version also ' +
      'those that boot it), details.count: how many in all',
  })
  async remove(
    @Param('imageId', uuidParam('imageId')) imageId: string,
    @Param('snapshotId', uuidParam('snapshotId')) snapshotId: string,
  ): Promise<void> {
    await this.snapshots.remove(imageId, snapshotId);
  }
}
