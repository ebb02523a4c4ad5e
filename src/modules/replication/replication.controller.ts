import { Controller, Get, Param, Query, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { api } from '@common/api';
import { Auth, Public } from '@common/auth/auth.decorators';
import { Role } from '@common/auth/role';
import { ApiErrors } from '@common/errors/api-errors.decorator';
import { ValidationError } from '@common/errors/domain-error';
import { uuidParam } from '@common/pagination';
import { ListReplicasQueryDto, ReplicaResponseDto } from './dto/replica.dto';
import { ReplicationService } from './replication.service';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Image versions across the nodes sharing this database (`/api/v1/replication`). */
@ApiTags('replication')
@Controller(api('replication'))
export class ReplicationController {
  constructor(private readonly replication: ReplicationService) {}

  @Get()
  @Auth(Role.Viewer)
  @ApiOperation({ summary: 'Every image version on every node: verified (bootable there), copying, verifying, failed or missing' })
  @ApiOkResponse({ type: ReplicaResponseDto, isArray: true })
  @ApiErrors({ 400: 'VALIDATION_FAILED' })
  async list(@Query() q: ListReplicasQueryDto): Promise<ReplicaResponseDto[]> {
    return (await this.replication.list(q)).map(ReplicaResponseDto.from);
  }

  /**
   * Node to node: the version's bytes (a ZFS send stream or the version file). Not for users: the request must carry a
   * `DLS-Node` credential signed with the nodes' shared secret for this exact path, good for a minute.
   */
  @Get('versions/:id/content')
  @Public()
  @ApiOperation({ summary: "Node to node: a version's content for another DLS node (DLS-Node credential, not a user token)" })
  @ApiProduces('application/octet-stream')
  @ApiQuery({ name: 'base', required: false, description: 'a version the asking node holds: a ZFS stream is incremental from it' })
  @ApiResponse({
    status: 200,
    description: 'the bytes; X-DLS-Stream-Format says raw, zfs-full or zfs-incremental',
    content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
  })
  @ApiErrors({ 400: 'INVALID_UUID', 401: 'NODE_AUTH_REQUIRED', 404: 'VERSION_NOT_FOUND', 409: 'VERSION_NOT_ON_NODE' })
  async content(@Param('id', uuidParam('id')) id: string, @Query('base') base: unknown, @Req() req: Request, @Res() res: Response): Promise<void> {
    if (base !== undefined && base !== '' && (typeof base !== 'string' || !UUID_RE.test(base))) {
      throw new ValidationError('INVALID_UUID', 'base: must be a version id (UUID) or empty');
    }
    const out = await this.replication.openContent(id, (base as string) || null, req.headers.authorization, req.method, req.originalUrl);
    res.status(200);
    res.setHeader('content-type', 'application/octet-stream');
    res.setHeader('x-dls-stream-format', out.format);
    if (out.baseVersionId) res.setHeader('x-dls-base-version', out.baseVersionId);
    if (out.sizeBytes !== null) res.setHeader('content-length', String(out.sizeBytes));
    res.on('close', () => out.stream.destroy());
    out.stream.on('error', (err) => res.destroy(err));
    out.stream.pipe(res);
  }
}
