import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { api } from '@common/api';
import { Auth } from '@common/auth/auth.decorators';
import { Role } from '@common/auth/role';
import { RoomSnapshotDto } from './dto/room.response.dto';
import { RoomService } from './room.service';

@ApiTags('room')
@Controller(api('room'))
@Auth(Role.Viewer)
export class RoomController {
  constructor(private readonly room: RoomService) {}

  @Get()
  @ApiOperation({
    summary: 'Every client with its image, version and live boot stage, at once (the Room grid); then follow GET /events from lastEventId',
  })
  @ApiOkResponse({ type: RoomSnapshotDto })
  async snapshot(): Promise<RoomSnapshotDto> {
    return this.room.snapshot();
  }
}
