import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';

/** Version names end up in ZFS snapshot names and file names, hence the conservative allow-list. */
export const SNAPSHOT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Body of `POST /images/:id/snapshots`. */
export class CreateSnapshotDto {
  @ApiProperty({ example: 'v2026-01-15', pattern: SNAPSHOT_NAME_PATTERN.source })
  @IsString()
  @Matches(SNAPSHOT_NAME_PATTERN, {
    message: 'name must be 1-64 characters of letters, digits, ".", "_" or "-", starting with a letter or digit',
  })
  name: string;

  @ApiPropertyOptional({ example: 'after May patches' })
  @IsOptional()
  @IsString()
  @MaxLength(10_000)
  description?: string | null;
}
