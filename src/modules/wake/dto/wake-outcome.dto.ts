import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { RANGE_SOURCES, RangeSource } from '../wake-range';
import type { WakeClientOutcome } from '../wake.events';

/** What waking one client did. */
export class WakeOutcomeDto {
  @ApiProperty({ format: 'uuid' }) clientId: string;
  @ApiProperty() hostname: string;
  @ApiProperty({ example: '52:54:00:12:34:56' }) macAddress: string;
  @ApiProperty({ enum: ['ok', 'failed'], description: 'ok: the magic packet left on the range’s interface' }) status: 'ok' | 'failed';
  @ApiPropertyOptional({ description: 'why not sent: WAKE_NO_RANGE, WAKE_RANGE_*, DHCP_DISABLED, INTERFACE_UNAVAILABLE, RANGE_RELAYED…' })
  code?: string;
  @ApiPropertyOptional() message?: string;
  @ApiPropertyOptional({ format: 'uuid', description: 'the range the client was woken on (or would have been)' }) rangeId?: string;
  @ApiPropertyOptional({ description: 'its name' }) range?: string;
  @ApiPropertyOptional({ description: 'the interface the packet left through (or would have)' }) interface?: string;
  @ApiPropertyOptional({ enum: RANGE_SOURCES, description: 'how the range was found' }) source?: RangeSource;

  static from(o: WakeClientOutcome): WakeOutcomeDto {
    return Object.assign(new WakeOutcomeDto(), o);
  }
}

/** Answer of `POST /clients/:id/wake`: the packet was sent. */
export class ClientWakeResponseDto extends WakeOutcomeDto {
  @ApiProperty({ type: [Number], example: [9], description: 'UDP ports it was sent to (DLS_WOL_PORTS)' }) ports: number[];
}

/** Answer of `POST /client-groups/:id/wake`: one outcome per member. */
export class GroupWakeResponseDto {
  @ApiProperty({ format: 'uuid' }) groupId: string;
  @ApiProperty({ description: 'group name' }) group: string;
  @ApiProperty({ description: 'members' }) total: number;
  @ApiProperty({ description: 'members a magic packet was sent to' }) sent: number;
  @ApiProperty({ description: 'members that could not be woken (see each result’s code)' }) failed: number;
  @ApiProperty({ type: [Number], example: [9] }) ports: number[];
  @ApiProperty({ type: [WakeOutcomeDto] }) results: WakeOutcomeDto[];
}
