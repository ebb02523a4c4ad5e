/** Error codes of Wake-on-LAN and wake schedules (the broadcast port adds its own: see RangeBroadcastErrorCode). */
export enum WakeErrorCode {
  CLIENT_NOT_FOUND = 'CLIENT_NOT_FOUND',
  GROUP_NOT_FOUND = 'GROUP_NOT_FOUND',
  /** Nothing says which network the client is on: no reservation, lease or boot in a range, no group default. */
  WAKE_NO_RANGE = 'WAKE_NO_RANGE',
  /** The client's range is disabled: DLS serves nothing there. */
  WAKE_RANGE_DISABLED = 'WAKE_RANGE_DISABLED',
  /** The client's range names no interface: DLS has no idea where its hosts are. */
  WAKE_RANGE_NO_INTERFACE = 'WAKE_RANGE_NO_INTERFACE',
  /** The client's range has dhcpMode off: DLS binds no socket on its interface. */
  WAKE_RANGE_DHCP_OFF = 'WAKE_RANGE_DHCP_OFF',
  SCHEDULE_NOT_FOUND = 'SCHEDULE_NOT_FOUND',
  /** A schedule's fields contradict each other (cron and days/time, days without time…). */
  SCHEDULE_INVALID = 'SCHEDULE_INVALID',
  /** A failure that is not a domain error (logged with its stack). */
  INTERNAL = 'INTERNAL',
}
