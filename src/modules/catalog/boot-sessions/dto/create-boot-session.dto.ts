import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIP, IsOptional, IsUUID } from 'class-validator';

/** Body of `POST /boot-sessions`: the image is taken from the client. */
export class CreateBootSessionDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  clientId: string;

  @ApiPropertyOptional({ example: '192.168.50.21' })
  @IsOptional()
  @IsIP(4, { message: 'clientIp must be an IPv4 address' })
  clientIp?: string;

  @ApiPropertyOptional({ example: '192.168.50.1' })
  @IsOptional()
  @IsIP(4, { message: 'bootServerIp must be an IPv4 address' })
  bootServerIp?: string;
}
