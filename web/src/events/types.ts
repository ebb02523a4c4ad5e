import type { Schemas } from '../api/client';

/** One message of the live stream (GET /api/v1/events): `type` picks the shape of `body`. */
export type DlsEvent = Schemas['EventMessageDto'];
export type EventType = DlsEvent['type'];

export interface EventBodies {
  'boot-session': Schemas['BootSessionEventBodyDto'];
  dhcp: Schemas['DhcpEventBodyDto'];
  tftp: Schemas['TftpEventBodyDto'];
  'boot-file': Schemas['BootFileEventBodyDto'];
  'boot-script': Schemas['BootScriptEventBodyDto'];
  'iscsi.login': Schemas['IscsiEventBodyDto'];
  'iscsi.logout': Schemas['IscsiEventBodyDto'];
  'image.import': Schemas['ImageImportEventBodyDto'];
  'version.published': Schemas['VersionPublishedEventBodyDto'];
  'storage.alert': Schemas['StorageAlertEventBodyDto'];
  wake: Schemas['WakeEventBodyDto'];
  'range.holder': Schemas['RangeHolderEventBodyDto'];
  'version.replica': Schemas['VersionReplicaEventBodyDto'];
  audit: Schemas['AuditEventBodyDto'];
  change: Schemas['ChangeEventBodyDto'];
  reset: Schemas['ResetEventBodyDto'];
  dropped: Schemas['DroppedEventBodyDto'];
}

/** An event narrowed to its type's body. */
export type TypedEvent<T extends keyof EventBodies> = Omit<DlsEvent, 'type' | 'body'> & { type: T; body: EventBodies[T] };

export const EVENT_TYPES: readonly (keyof EventBodies)[] = [
  'boot-session',
  'dhcp',
  'tftp',
  'boot-file',
  'boot-script',
  'iscsi.login',
  'iscsi.logout',
  'image.import',
  'version.published',
  'storage.alert',
  'wake',
  'range.holder',
  'version.replica',
  'audit',
  'change',
  'reset',
  'dropped',
];
