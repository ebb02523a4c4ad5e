import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsISO8601, IsOptional } from 'class-validator';

/** `GET /boot-sessions/stats`: the window `from <= startedAt < to` (at most {@link MAX_STATS_RANGE_DAYS} days). */
export class BootSessionStatsQueryDto {
  @ApiPropertyOptional({ description: 'ISO 8601 date-time; default: 24 hours before `to`', example: '2026-01-01T00:00:00Z' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ description: 'ISO 8601 date-time; default: now', example: '2026-01-02T00:00:00Z' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
}

/** Longest window `GET /boot-sessions/stats` accepts. */
export const MAX_STATS_RANGE_DAYS = 366;

/** Upper edges (seconds) of the boot-time histogram's buckets; a last bucket (`upToSeconds: null`) takes the rest. */
export const BOOT_TIME_BUCKETS = [5, 10, 15, 20, 30, 45, 60, 90, 120, 180] as const;

export class BootTimeBucketDto {
  @ApiProperty({
    type: Number,
    nullable: true,
    description: "upper edge in seconds (inclusive); the previous bucket's edge is the lower (exclusive); null: no upper edge (+Inf)",
    example: 30,
  })
  upToSeconds: number | null;
  @ApiProperty({ description: 'sessions whose bootTimeSeconds falls in this bucket (not cumulative)', example: 12 }) count: number;
}

export class BootTimeStatsDto {
  @ApiProperty({ type: Number, nullable: true, description: 'median bootTimeSeconds (percentile_cont; null: no boot reached running)' })
  p50: number | null;
  @ApiProperty({ type: Number, nullable: true, description: '90th percentile of bootTimeSeconds (percentile_cont)' })
  p90: number | null;
  @ApiProperty({ type: [BootTimeBucketDto], description: `histogram over the fixed edges ${BOOT_TIME_BUCKETS.join(', ')}, +Inf` })
  buckets: BootTimeBucketDto[];
}

export class StageMediansDto {
  @ApiProperty({ type: Number, nullable: true, description: 'median of loaderAt − dhcpAt, ms (sessions with both; null: none)' })
  dhcpToLoaderMs: number | null;
  @ApiProperty({ type: Number, nullable: true, description: 'median of scriptAt − loaderAt, ms' }) loaderToScriptMs: number | null;
  @ApiProperty({ type: Number, nullable: true, description: 'median of iscsiLoginAt − scriptAt, ms' }) scriptToIscsiMs: number | null;
  @ApiProperty({ type: Number, nullable: true, description: 'median of runningAt − iscsiLoginAt, ms' }) iscsiToRunningMs: number | null;
  @ApiProperty({ type: Number, nullable: true, description: 'median of runningAt − startedAt, ms' }) totalMs: number | null;
}

/** Boot statistics of a time window (the dashboard's overview). */
export class BootSessionStatsDto {
  @ApiProperty({ type: String, format: 'date-time' }) from: string;
  @ApiProperty({ type: String, format: 'date-time' }) to: string;
  @ApiProperty({ description: 'sessions started in the window' }) boots: number;
  @ApiProperty({ description: 'sessions with status running now (whenever they started)' }) running: number;
  @ApiProperty({ description: 'sessions started in the window that ended in error' }) errors: number;
  @ApiProperty({ type: BootTimeStatsDto, description: 'bootTimeSeconds of the sessions started in the window that reached running' })
  bootTime: BootTimeStatsDto;
  @ApiProperty({ type: StageMediansDto, description: 'medians of the time between stages, over the sessions started in the window' })
  stageMedians: StageMediansDto;
}
