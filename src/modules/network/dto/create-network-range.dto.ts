import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsIP,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  Min,
  ValidateBy,
  ValidationOptions,
} from 'class-validator';
import { DHCP_MODES, DhcpMode, UNKNOWN_CLIENT_POLICIES, UnknownClientPolicy } from '../network-range.entity';
import { IsUnicastIpv4 } from '@common/field-rules.decorator';
import { normalizeCidr } from '@common/net/ipv4';

/** Linux interface name (IFNAMSIZ 16 incl. NUL → 15 characters). */
export const IFNAME_PATTERN = /^[A-Za-z0-9_.:-]{1,15}$/;
export const MIN_LEASE_SECONDS = 60;
export const MAX_LEASE_SECONDS = 2_592_000; // 30 days

function IsIpv4Cidr(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isIpv4Cidr',
      validator: {
        validate: (v: unknown) => typeof v === 'string' && normalizeCidr(v) === v,
        defaultMessage: () => 'cidr must be an IPv4 network like 192.168.50.0/24 (prefix 1-32)',
      },
    },
    options,
  );
}

const toCanonicalCidr = ({ value }: { value: unknown }): unknown => (typeof value === 'string' ? (normalizeCidr(value) ?? value) : value);

/** Body of `POST /network-ranges`: one boot network and how DLS answers DHCP on it. */
export class CreateNetworkRangeDto {
  @ApiProperty({ example: 'lab-a', maxLength: 100 })
  @IsString()
  @Length(1, 100)
  name: string;

  @ApiProperty({ example: '192.168.50.0/24', description: 'IPv4 network; host bits are cleared' })
  @Transform(toCanonicalCidr)
  @IsIpv4Cidr()
  @IsUnicastIpv4()
  cidr: string;

  @ApiPropertyOptional({ example: '192.168.50.1', nullable: true, type: String })
  @IsOptional()
  @IsIP(4, { message: 'gateway must be an IPv4 address' })
  gateway?: string | null;

  @ApiPropertyOptional({ type: [String], example: ['192.168.50.1'], maxItems: 8 })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(8)
  @IsIP(4, { each: true, message: 'each of dnsServers must be an IPv4 address' })
  dnsServers?: string[];

  @ApiPropertyOptional({ enum: DHCP_MODES, default: 'full', description: 'full DHCP, proxyDHCP (PXE only) or off' })
  @IsOptional()
  @IsIn(DHCP_MODES)
  dhcpMode?: DhcpMode;

  @ApiPropertyOptional({ example: '192.168.50.100', nullable: true, type: String, description: 'with poolEnd, or neither' })
  @IsOptional()
  @IsIP(4, { message: 'poolStart must be an IPv4 address' })
  poolStart?: string | null;

  @ApiPropertyOptional({ example: '192.168.50.199', nullable: true, type: String })
  @IsOptional()
  @IsIP(4, { message: 'poolEnd must be an IPv4 address' })
  poolEnd?: string | null;

  @ApiPropertyOptional({ default: 3600, minimum: MIN_LEASE_SECONDS, maximum: MAX_LEASE_SECONDS })
  @IsOptional()
  @IsInt()
  @Min(MIN_LEASE_SECONDS)
  @Max(MAX_LEASE_SECONDS)
  leaseSeconds?: number;

  @ApiPropertyOptional({ example: '192.168.50.2', nullable: true, type: String, description: 'TFTP/boot server (siaddr)' })
  @IsOptional()
  @IsIP(4, { message: 'nextServer must be an IPv4 address' })
  nextServer?: string | null;

  @ApiPropertyOptional({ example: 'eth1', nullable: true, type: String })
  @IsOptional()
  @IsString()
  @Matches(IFNAME_PATTERN, { message: 'interface must be a Linux interface name (1-15 of letters, digits, _ . : -)' })
  interface?: string | null;

  @ApiPropertyOptional({ enum: UNKNOWN_CLIENT_POLICIES, default: 'ignore' })
  @IsOptional()
  @IsIn(UNKNOWN_CLIENT_POLICIES)
  unknownClientPolicy?: UnknownClientPolicy;

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}
