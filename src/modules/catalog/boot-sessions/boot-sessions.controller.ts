import { Body, Controller, Get, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiConflictResponse, ApiCreatedResponse, ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Auth } from '@common/auth/auth.decorators';
import { api } from '@common/api';
import { mapPage, Page, PaginationQueryDto, uuidParam } from '@common/pagination';
import { Role } from '@common/auth/role';
import { BootSessionsService } from './boot-sessions.service';
import { BootSessionPageDto, BootSessionResponseDto } from './dto/boot-session.response.dto';
import { CreateBootSessionDto } from './dto/create-boot-session.dto';
import { ListBootSessionsQueryDto } from './dto/list-boot-sessions.query.dto';
import { UpdateBootSessionDto } from './dto/update-boot-session.dto';

@ApiTags('boot-sessions')
@Controller(api('boot-sessions'))
@Auth(Role.Viewer)
export class BootSessionsController {
  constructor(private readonly sessions: BootSessionsService) {}

  @Get()
  @ApiOkResponse({ type: BootSessionPageDto })
  async list(@Query() q: ListBootSessionsQueryDto): Promise<Page<BootSessionResponseDto>> {
    return mapPage(await this.sessions.list(q), BootSessionResponseDto.from);
  }

  @Get('active')
  @ApiOkResponse({ type: BootSessionPageDto, description: 'open (starting/booting/running) sessions' })
  async active(@Query() q: PaginationQueryDto): Promise<Page<BootSessionResponseDto>> {
    return mapPage(await this.sessions.active(q), BootSessionResponseDto.from);
  }

  @Get(':id')
  @ApiOkResponse({ type: BootSessionResponseDto })
  @ApiNotFoundResponse()
  async get(@Param('id', uuidParam('id')) id: string): Promise<BootSessionResponseDto> {
    return BootSessionResponseDto.from(await this.sessions.get(id));
  }

  @Post()
  @Auth(Role.Operator)
  @ApiCreatedResponse({ type: BootSessionResponseDto })
  @ApiNotFoundResponse({ description: 'unknown client' })
  @ApiConflictResponse({ description: 'CLIENT_HAS_NO_IMAGE, CLIENT_DISABLED or SESSION_ALREADY_OPEN' })
  async open(@Body() dto: CreateBootSessionDto): Promise<BootSessionResponseDto> {
    return BootSessionResponseDto.from(await this.sessions.open(dto.clientId, dto));
  }

  @Patch(':id')
  @Auth(Role.Operator)
  @ApiOkResponse({ type: BootSessionResponseDto })
  @ApiBadRequestResponse({ description: 'errorMessage missing for status error' })
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'ILLEGAL_TRANSITION' })
  async transition(@Param('id', uuidParam('id')) id: string, @Body() dto: UpdateBootSessionDto): Promise<BootSessionResponseDto> {
    return BootSessionResponseDto.from(await this.sessions.transition(id, dto.status, dto.errorMessage));
  }
}
