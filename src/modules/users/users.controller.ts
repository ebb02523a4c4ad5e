import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Patch, Post, Query } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { api } from '@common/api';
import { Auth } from '@common/auth/auth.decorators';
import { ApiErrors } from '@common/errors/api-errors.decorator';
import { ETagged, IfMatch } from '@common/etag/etag.decorators';
import type { VersionPrecondition } from '@common/etag/etag';
import { CreateUserDto } from './dto/create-user.dto';
import { ListUsersQueryDto } from './dto/list-users.query.dto';
import { UpdateUserDto } from './dto/update-user.dto';
import { UserDto, UserPageDto } from './dto/user.dto';
import { Role } from '@common/auth/role';
import { UsersService } from './users.service';

/** Admin-only user management. */
@ApiTags('users')
@Auth(Role.Admin)
@Controller(api('users'))
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get()
  @ApiOperation({ summary: 'List users' })
  @ApiOkResponse({ type: UserPageDto })
  @ApiErrors({ 400: true })
  list(@Query() q: ListUsersQueryDto): Promise<UserPageDto> {
    return this.users.list(q);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a user' })
  @ETagged(UserDto)
  @ApiErrors({ 400: 'id is not a UUID', 404: 'USER_NOT_FOUND' })
  get(@Param('id', ParseUUIDPipe) id: string): Promise<UserDto> {
    return this.users.get(id);
  }

  @Post()
  @ApiOperation({ summary: 'Create a user' })
  @ETagged(UserDto, 201)
  @ApiErrors({ 400: 'VALIDATION_FAILED (a weak password says why)', 409: 'USERNAME_TAKEN' })
  create(@Body() dto: CreateUserDto): Promise<UserDto> {
    return this.users.create(dto);
  }

  @Patch(':id')
  @ApiOperation({ summary: "Change a user's password, role or enabled (If-Match: only while it is at that version)" })
  @ETagged(UserDto)
  @ApiErrors({
    400: 'VALIDATION_FAILED or INVALID_IF_MATCH',
    404: 'USER_NOT_FOUND',
    409: 'LAST_ADMIN: the last enabled admin cannot be disabled or demoted',
  })
  update(@Param('id', ParseUUIDPipe) id: string, @Body() dto: UpdateUserDto, @IfMatch() ifMatch?: VersionPrecondition): Promise<UserDto> {
    return this.users.update(id, dto, ifMatch);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a user' })
  @ApiNoContentResponse()
  @ApiErrors({ 400: 'id is not a UUID', 404: 'USER_NOT_FOUND', 409: 'LAST_ADMIN: the last enabled admin cannot be deleted' })
  remove(@Param('id', ParseUUIDPipe) id: string): Promise<void> {
    return this.users.remove(id);
  }
}
