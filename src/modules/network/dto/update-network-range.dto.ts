import { PartialType } from '@nestjs/swagger';
import { CreateNetworkRangeDto } from './create-network-range.dto';

/** Body of `PATCH /network-ranges/:id`; the result is validated as a whole (pool inside the CIDR, etc.). */
export class UpdateNetworkRangeDto extends PartialType(CreateNetworkRangeDto) {}
