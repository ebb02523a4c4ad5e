import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';

/** `GET /health/live`: the process answers. */
export class LivenessDto {
  @ApiProperty({ enum: ['ok'] }) status: 'ok';
}

/** One part's state (`status` plus what the part adds: `driver`, `pid`, `message`, …). */
const PART: SchemaObject = {
  type: 'object',
  properties: { status: { type: 'string', enum: ['up', 'down'] } },
  required: ['status'],
  additionalProperties: true,
};
const PARTS = { type: 'object', additionalProperties: PART } as const;

/**
 * `GET /health/ready` (terminus' result): the database and every part the configuration enables, each with its state;
 * the same shape with status 503 when a part is down.
 */
export class ReadinessDto {
  @ApiProperty({ enum: ['ok', 'error', 'shutting_down'] }) status: 'ok' | 'error' | 'shutting_down';
  @ApiPropertyOptional({ ...PARTS, description: 'parts that are up' }) info?: Record<string, { status: string }>;
  @ApiPropertyOptional({ ...PARTS, description: 'parts that are down' }) error?: Record<string, { status: string }>;
  @ApiProperty({ ...PARTS, description: 'every part' }) details: Record<string, { status: string }>;
}
