/**
 * The DHCP server of DLS: full-mode DHCP, proxyDHCP and relayed requests for the network ranges that have an
 * interface. {@link DhcpServer} answers requests (framework-free); {@link DhcpProvider} binds it to the interfaces
 * and follows range changes. `PxeBootModule` lists {@link DHCP_PROVIDERS} among its providers; it must also import
 * `TypeOrmModule.forFeature([DhcpLease])`, the catalogue (for the boot policy) and `NetworkModule` (for
 * `NetworkRangesService`), and provide `AppConfig` and `BootSessionTracker`.
 */
import { DhcpLeasesService } from './dhcp-leases.service';
import { DhcpProvider } from './dhcp.provider';

export * from './dhcp-leases.service';
export * from './dhcp.ports';
export * from './dhcp.server';
export * from './dhcp.provider';
export * from './dhcp-decision';
export * from './address-pool';
export * from './range-broadcast';

/** Providers of the DHCP server, for `PxeBootModule`. */
export const DHCP_PROVIDERS = [DhcpLeasesService, DhcpProvider];
