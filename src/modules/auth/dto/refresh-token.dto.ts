import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';

/** Body of POST /auth/refresh and POST /auth/logout. */
export class RefreshTokenDto {
  @ApiProperty({ description: 'the opaque refresh token from login or the last refresh' })
  @IsString()
  @Length(1, 512)
  refreshToken: string;
}
