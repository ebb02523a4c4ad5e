/** Public surface of the network module: other modules import from here only. */
export * from './network-range.entity';
export * from './network-ranges.service';
export * from './network.module';
