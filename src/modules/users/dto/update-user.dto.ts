import { ApiPropertyOptional, PartialType, PickType } from '@nestjs/swagger';
import { IsBoolean, IsOptional } from 'class-validator';
import { CreateUserDto } from './create-user.dto';

/**
 * PATCH body: any of password, role, enabled. The username is immutable (audit rows refer to it). Omitted fields
 * stay as they are; `null` is no value for any of them (skipNullProperties: false keeps the rules for null).
 */
export class UpdateUserDto extends PartialType(PickType(CreateUserDto, ['password', 'role'] as const), { skipNullProperties: false }) {
  @ApiPropertyOptional({ description: 'false = the user can no longer log in; its refresh tokens are revoked' })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}
