import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ClusterService, RANGE_OWNERSHIP } from './cluster.service';
import { DlsNode } from './node.entity';
import { NodesController } from './nodes.controller';
import { RangeOwner } from './range-owner.entity';

/**
 * Several DLS nodes on one PostgreSQL: node registration and heartbeats, and which node answers DHCP for each range.
 * Owns the `nodes` and `range_owners` tables. The boot plane asks it through {@link RANGE_OWNERSHIP}.
 */
@Module({
  imports: [TypeOrmModule.forFeature([DlsNode, RangeOwner])],
  controllers: [NodesController],
  providers: [ClusterService, { provide: RANGE_OWNERSHIP, useExisting: ClusterService }],
  exports: [ClusterService, RANGE_OWNERSHIP],
})
export class ClusterModule {}
