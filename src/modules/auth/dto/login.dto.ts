import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';

export class LoginDto {
  @ApiProperty({ example: 'admin' })
  @IsString()
  @Length(1, 64)
  username: string;

  @ApiProperty({ writeOnly: true, example: 'correct horse battery' })
  @IsString()
  @Length(1, 256)
  password: string;
}
