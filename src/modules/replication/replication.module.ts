import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ClusterModule } from '../cluster';
import { StorageModule } from '../storage';
import { ReplicationController } from './replication.controller';
import { ReplicationService } from './replication.service';
import { VersionReplica } from './version-replica.entity';

/**
 * Image versions copied between the nodes sharing one database, checked against the sha256 recorded when each was
 * made. Owns `version_replicas`. The catalogue asks it whether a version may boot here ({@link ReplicationService}).
 */
@Module({
  imports: [TypeOrmModule.forFeature([VersionReplica]), ClusterModule, StorageModule],
  controllers: [ReplicationController],
  providers: [ReplicationService],
  exports: [ReplicationService],
})
export class ReplicationModule {}
