import { ApiProperty } from '@nestjs/swagger';
import { Role } from '@common/auth/role';

export class TokenPairDto {
  @ApiProperty({ description: 'JWT; send as `Authorization: Bearer <accessToken>`' })
  accessToken: string;

  @ApiProperty({ description: 'opaque, single use: POST /auth/refresh exchanges it for a new pair' })
  refreshToken: string;

  @ApiProperty({ enum: ['Bearer'] })
  tokenType: 'Bearer';

  @ApiProperty({ description: 'access-token lifetime in seconds', example: 900 })
  expiresIn: number;
}

/** The authenticated caller (GET /auth/me). */
export class PrincipalDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty()
  username: string;

  @ApiProperty({ enum: Role, enumName: 'Role' })
  role: Role;
}
