import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional } from 'class-validator';
import { queryBoolean } from '@common/pagination';
import { SIGNED_LOADER_PLATFORMS } from '../signed-loader.entity';
import type { SignedLoaderView } from '../signed-loaders.service';

/** A signed loader as the API returns it. */
export class SignedLoaderResponseDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: SIGNED_LOADER_PLATFORMS, description: 'the CPU it is built for (PE machine type)' }) platform: string;
  @ApiProperty({ example: 'ipxe-shimx64.efi' }) name: string;
  @ApiProperty({
    example: 'signed/x64/ipxe-shimx64.efi',
    description: 'its path in the boot files root: what DHCP names, TFTP and /boot/files serve',
  })
  path: string;
  @ApiProperty({ description: 'sha256 of the uploaded bytes' }) sha256: string;
  @ApiProperty() sizeBytes: number;
  @ApiProperty({ description: "DHCP hands this file to the CPU's Secure Boot clients (at most one per CPU)" }) entry: boolean;
  @ApiProperty({
    enum: ['ok', 'missing', 'changed'],
    description: 'ok; missing or changed: the boot files root no longer holds the uploaded bytes (an entry then is not used)',
  })
  state: string;
  @ApiProperty({ description: 'row version: the ETag is `"<version>"` (send it in If-Match to edit this version)', example: 1 }) version: number;
  @ApiProperty() createdAt: Date;
  @ApiProperty() updatedAt: Date;

  static from(v: SignedLoaderView): SignedLoaderResponseDto {
    const d = new SignedLoaderResponseDto();
    d.id = v.id;
    d.platform = v.platform;
    d.name = v.name;
    d.path = v.path;
    d.sha256 = v.sha256.trim();
    d.sizeBytes = v.sizeBytes;
    d.entry = v.entry;
    d.state = v.state;
    d.version = v.version;
    d.createdAt = v.createdAt;
    d.updatedAt = v.updatedAt;
    return d;
  }
}

export class UploadSignedLoaderQuery {
  @ApiPropertyOptional({ description: "make it the CPU's entry (what DHCP hands its Secure Boot clients); default: keep the replaced file's" })
  @IsOptional()
  @Transform(queryBoolean)
  @IsBoolean()
  entry?: boolean;
}

export class UpdateSignedLoaderDto {
  @ApiProperty({ description: "true: DHCP hands this file to the CPU's Secure Boot clients (the previous entry stops being it)" })
  @IsBoolean()
  entry: boolean;
}
