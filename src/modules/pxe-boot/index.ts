/** Public surface of the boot plane: other modules import from here only. */
export { PxeBootModule } from './pxe-boot.module';
export { RANGE_BROADCASTER, RangeBroadcastErrorCode } from './dhcp/range-broadcast';
export type { RangeBroadcaster, RangeBroadcastSent } from './dhcp/range-broadcast';
