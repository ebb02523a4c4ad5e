import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { NetworkRange } from './network-range.entity';
import { NetworkRangesController } from './network-ranges.controller';
import { NetworkRangesService } from './network-ranges.service';

/** Boot networks (`/api/v1/network-ranges`). Exports NetworkRangesService (listEnabled) for the DHCP server. */
@Module({
  imports: [TypeOrmModule.forFeature([NetworkRange])],
  controllers: [NetworkRangesController],
  providers: [NetworkRangesService],
  exports: [NetworkRangesService],
})
export class NetworkModule {}
