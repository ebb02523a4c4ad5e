/** Public surface of the replication module: other modules import from here only. */
export * from './replication.module';
export { ReplicationService } from './replication.service';
export type { ReplicaView } from './replication.service';
export * from './version-replica.entity';
