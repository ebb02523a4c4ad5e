import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PageResponseDto } from '@common/pagination';
import { DHCP_MODES, DhcpMode, NetworkRange, UNKNOWN_CLIENT_POLICIES, UnknownClientPolicy } from '../network-range.entity';

/** A network range as the API returns it. */
export class NetworkRangeResponseDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty({ example: '192.168.50.0/24' }) cidr: string;
  @ApiPropertyOptional({ nullable: true, type: String }) gateway: string | null;
  @ApiProperty({ type: [String] }) dnsServers: string[];
  @ApiProperty({ enum: DHCP_MODES }) dhcpMode: DhcpMode;
  @ApiPropertyOptional({ nullable: true, type: String }) poolStart: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) poolEnd: string | null;
  @ApiProperty() leaseSeconds: number;
  @ApiPropertyOptional({ nullable: true, type: String }) nextServer: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) interface: string | null;
  @ApiProperty({ enum: UNKNOWN_CLIENT_POLICIES }) unknownClientPolicy: UnknownClientPolicy;
  @ApiProperty() enabled: boolean;
  @ApiProperty() createdAt: Date;
  @ApiProperty() updatedAt: Date;
  @ApiProperty({ description: 'row version: the ETag is `"<version>"` (send it in If-Match to edit this version)', example: 1 }) version: number;

  static from(r: NetworkRange): NetworkRangeResponseDto {
    const d = new NetworkRangeResponseDto();
    d.id = r.id;
    d.name = r.name;
    d.cidr = r.cidr;
    d.gateway = r.gateway;
    d.dnsServers = r.dnsServers ?? [];
    d.dhcpMode = r.dhcpMode;
    d.poolStart = r.poolStart;
    d.poolEnd = r.poolEnd;
    d.leaseSeconds = r.leaseSeconds;
    d.nextServer = r.nextServer;
    d.interface = r.interface;
    d.unknownClientPolicy = r.unknownClientPolicy;
    d.enabled = r.enabled;
    d.createdAt = r.createdAt;
    d.updatedAt = r.updatedAt;
    d.version = r.version;
    return d;
  }
}

export class NetworkRangePageDto extends PageResponseDto {
  @ApiProperty({ type: [NetworkRangeResponseDto] }) items: NetworkRangeResponseDto[];
}
