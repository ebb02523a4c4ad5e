/** DHCP/BOOTP wire codec, option table, PXE/iPXE client classification and reply builders (framework-free). */
export * from './dhcp.constants';
export * from './dhcp.codec';
export * from './dhcp.options';
export * from './pxe';
export * from './dhcp.reply';
