/** Public surface of the cluster module: other modules import from here only. */
export * from './cluster.module';
export { ClusterService, RANGE_OWNERSHIP } from './cluster.service';
export type { RangeOwnershipPort, NodeView } from './cluster.service';
export * from './node.entity';
export * from './range-owner.entity';
