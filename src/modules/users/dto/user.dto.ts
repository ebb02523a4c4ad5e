import { ApiProperty } from '@nestjs/swagger';
import { Role } from '@common/auth/role';
import { User } from '../user.entity';

/** A user as the API shows it: never the password hash. */
export class UserDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ example: 'operator1' })
  username: string;

  @ApiProperty({ enum: Role, enumName: 'Role' })
  role: Role;

  @ApiProperty()
  enabled: boolean;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastLoginAt: Date | null;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt: Date;

  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt: Date;

  @ApiProperty({ description: 'row version: the ETag is `"<version>"` (send it in If-Match to edit this version)', example: 1 })
  version: number;

  static from(u: User): UserDto {
    const dto = new UserDto();
    dto.id = u.id;
    dto.username = u.username;
    dto.role = u.role;
    dto.enabled = u.enabled;
    dto.lastLoginAt = u.lastLoginAt;
    dto.createdAt = u.createdAt;
    dto.updatedAt = u.updatedAt;
    dto.version = u.version;
    return dto;
  }
}

export class UserPageDto {
  @ApiProperty({ type: [UserDto] })
  items: UserDto[];

  @ApiProperty({ description: 'number of users in total (for paging)' })
  total: number;
}
