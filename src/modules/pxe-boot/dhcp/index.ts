/**
 * The DHCP server of DLS: full-mode DHCP, proxyDHCP and relayed requests for the network ranges that have an
 * interface. `PxeBootModule` lists {@link DHCP_PROVIDERS} among its providers; it must also import
 * `TypeOrmModule.forFeature([DhcpLease])` and the catalogue (the boot policy), and provide `AppConfig` and
 * `BootSessionTracker`.
 */
import { DhcpLeasesService } from './dhcp-leases.service';
import { DhcpServer } from './dhcp.server';

export * from './dhcp-leases.service';
export * from './dhcp.server';
export * from './dhcp-decision';
export * from './address-pool';

/** Providers of the DHCP server, for `PxeBootModule`. */
export const DHCP_PROVIDERS = [DhcpLeasesService, DhcpServer];
