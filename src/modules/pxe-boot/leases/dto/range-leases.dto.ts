import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { PageResponseDto, PaginationQueryDto } from '@common/pagination';
import { LEASE_STATES, LeaseState } from '../../dhcp-lease.entity';

/** `GET /network-ranges/:id/leases` query. */
export class ListLeasesQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ enum: LEASE_STATES })
  @IsOptional()
  @IsIn(LEASE_STATES)
  state?: LeaseState;
}

/** One DHCP lease of a range. */
export class LeaseDto {
  @ApiProperty({ example: '10.0.0.100' }) address: string;
  @ApiProperty({ example: '52:54:00:12:34:56' }) macAddress: string;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid' }) clientId: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, description: "the client's hostname, else the one the PC sent" }) hostname: string | null;
  @ApiProperty({ enum: LEASE_STATES }) state: LeaseState;
  @ApiProperty() expiresAt: Date;
  @ApiProperty({ description: 'state is offered or bound and expiresAt is in the future' }) active: boolean;
}

export class LeasePageDto extends PageResponseDto {
  @ApiProperty({ type: [LeaseDto] }) items: LeaseDto[];
}

/** How full a range's address pool is. */
export class PoolUtilisationDto {
  @ApiProperty({ format: 'uuid' }) rangeId: string;
  @ApiProperty({ description: 'addresses from poolStart to poolEnd (0: no pool, e.g. a proxy range)' }) size: number;
  @ApiProperty({ description: 'active leases (offered or bound, unexpired) inside the pool' }) inUse: number;
  @ApiProperty({ description: 'declined addresses held in quarantine inside the pool' }) quarantined: number;
  @ApiProperty({ description: 'size - inUse - quarantined' }) free: number;
}
