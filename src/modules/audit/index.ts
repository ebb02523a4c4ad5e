/** Public surface of the audit module: other modules import from here only. */
export * from './audit.service';
