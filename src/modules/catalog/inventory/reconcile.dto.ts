import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional } from 'class-validator';

const KINDS = ['image', 'version', 'client-disk', 'staging'] as const;

export class ReconcileDto {
  @ApiPropertyOptional({ description: 'also destroy orphans (DLS-tagged items unknown to the database)', default: false })
  @IsOptional()
  @IsBoolean()
  removeOrphans?: boolean;
}

/** Something DLS made in storage (and tagged as its own). */
export class ManagedItemDto {
  @ApiProperty({ enum: KINDS }) kind: (typeof KINDS)[number];
  @ApiProperty({ description: 'dataset or snapshot name (zfs), or absolute path (dir; staging entries on both)' }) ref: string;
  @ApiPropertyOptional({ format: 'uuid' }) imageId?: string;
  @ApiPropertyOptional({ format: 'uuid' }) versionId?: string;
  @ApiPropertyOptional({ format: 'uuid' }) clientId?: string;
}

/** A record whose storage is gone. */
export class MissingItemDto {
  @ApiProperty({ enum: KINDS }) kind: (typeof KINDS)[number];
  @ApiProperty({ format: 'uuid', description: 'the version id, or the client id of a client disk' }) id: string;
  @ApiPropertyOptional({ format: 'uuid' }) imageId?: string;
}

/** `POST /storage/reconcile`: storage and database compared. */
export class ReconcileReportDto {
  @ApiProperty({ type: [ManagedItemDto], description: 'tagged as ours but unknown to the database, and staging files no upload or import owns' })
  orphans: ManagedItemDto[];
  @ApiProperty({ type: [MissingItemDto], description: 'in the database, absent from storage' }) missing: MissingItemDto[];
  @ApiProperty({ type: [ManagedItemDto], description: 'orphans removed (removeOrphans: true)' }) removed: ManagedItemDto[];
}
