import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  ValidateNested,
} from 'class-validator';
import { queryBoolean } from '@common/pagination';

/** Most clients one bulk action may touch; a bigger selection is a 400. */
export const ACTION_MAX_CLIENTS = 1000;

export const CLIENT_ACTIONS = ['assign-image', 'assign-version', 'move-to-group', 'enable', 'disable', 'reset-disk', 'delete'] as const;
export type ClientActionKind = (typeof CLIENT_ACTIONS)[number];

/** Select clients by attributes (all given conditions must hold; at least one is required). */
export class ClientActionFilterDto {
  @ApiPropertyOptional({ description: 'hostname or MAC prefix, or image name prefix', maxLength: 100 })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  q?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @Transform(queryBoolean)
  @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  pending?: boolean;

  @ApiPropertyOptional({ format: 'uuid', description: 'clients whose own assignedImageId is this image' })
  @IsOptional()
  @IsUUID()
  imageId?: string;
}

/**
 * Body of `POST /clients/actions`: exactly one selection (`ids`, `groupId` or `filter`) and one `action` with its
 * parameters (`imageId`/`pinnedSnapshotId` for assign-image, `pinnedSnapshotId` for assign-version, `targetGroupId`
 * for move-to-group).
 */
export class ClientActionDto {
  @ApiProperty({ enum: CLIENT_ACTIONS })
  @IsIn(CLIENT_ACTIONS)
  action: ClientActionKind;

  @ApiPropertyOptional({ type: [String], format: 'uuid', maxItems: ACTION_MAX_CLIENTS, description: 'selection: these clients' })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(ACTION_MAX_CLIENTS)
  @IsUUID('all', { each: true })
  ids?: string[];

  @ApiPropertyOptional({ format: 'uuid', description: 'selection: the members of this group' })
  @IsOptional()
  @IsUUID()
  groupId?: string;

  @ApiPropertyOptional({ type: ClientActionFilterDto, description: 'selection: clients matching every condition' })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => ClientActionFilterDto)
  filter?: ClientActionFilterDto;

  @ApiPropertyOptional({ format: 'uuid', nullable: true, type: String, description: 'assign-image: the image (null: inherit the group’s)' })
  @IsOptional()
  @IsUUID()
  imageId?: string | null;

  @ApiPropertyOptional({
    format: 'uuid',
    nullable: true,
    type: String,
    description: 'assign-image / assign-version: the version to pin (null: none)',
  })
  @IsOptional()
  @IsUUID()
  pinnedSnapshotId?: string | null;

  @ApiPropertyOptional({ format: 'uuid', nullable: true, type: String, description: 'move-to-group: the group (null: no group)' })
  @IsOptional()
  @IsUUID()
  targetGroupId?: string | null;
}

/** What happened to one client. */
export class ClientActionResultDto {
  @ApiProperty({ format: 'uuid' }) clientId: string;
  @ApiProperty() hostname: string;
  @ApiProperty({ enum: ['ok', 'failed'] }) status: 'ok' | 'failed';
  @ApiPropertyOptional({ description: 'error code of a failed side effect' }) code?: string;
  @ApiPropertyOptional() message?: string;
}

/** Answer of `POST /clients/actions`: database changes were all made; side effects reported per client. */
export class ClientActionResponseDto {
  @ApiProperty({ enum: CLIENT_ACTIONS }) action: ClientActionKind;
  @ApiProperty({ description: 'clients selected' }) total: number;
  @ApiProperty({ description: 'clients whose side effect failed (database changes are never partial)' }) failed: number;
  @ApiProperty({ type: [ClientActionResultDto] }) results: ClientActionResultDto[];
}
