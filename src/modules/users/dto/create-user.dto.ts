import { ApiProperty } from '@nestjs/swagger';
import { IsEnum, IsString, Length, Matches } from 'class-validator';
import { IsStrongEnoughPassword } from '@common/auth/password-policy';
import { Role } from '@common/auth/role';

/** Same rule as DLS_ADMIN_USER: lower-case, starts with a letter, 3..64 characters. */
export const USERNAME_PATTERN = /^[a-z][a-z0-9_.-]{2,63}$/;

export class CreateUserDto {
  @ApiProperty({ example: 'operator1', pattern: USERNAME_PATTERN.source })
  @IsString()
  @Matches(USERNAME_PATTERN, { message: 'username must match ^[a-z][a-z0-9_.-]{2,63}$ (lower-case, starts with a letter)' })
  username: string;

  @ApiProperty({
    minLength: 8,
    maxLength: 256,
    writeOnly: true,
    example: 'correct horse battery',
    description: 'must not be easy to guess (zxcvbn score ≥ 3: no common password, keyboard pattern, repeat or the username)',
  })
  @IsString()
  @Length(8, 256)
  @IsStrongEnoughPassword()
  password: string;

  @ApiProperty({ enum: Role, enumName: 'Role', example: Role.Operator })
  @IsEnum(Role)
  role: Role;
}
