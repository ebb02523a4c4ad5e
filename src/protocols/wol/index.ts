/** Wake-on-LAN magic packet codec (framework-free). */
export * from './magic-packet';
