import type { Role } from '@common/auth/role';

/**
 * Every event type the stream carries (the SSE `event:` field). Stored types are published by DLS; `reset` and
 * `dropped` are control messages sent to one subscriber and never stored.
 */
export const EVENT_TYPES = [
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
] as const;
export type EventType = (typeof EVENT_TYPES)[number];
export const CONTROL_EVENT_TYPES = ['reset', 'dropped'] as const;
export type ControlEventType = (typeof CONTROL_EVENT_TYPES)[number];

/** Body of `boot-session`: a boot session opened or changed status (DHCP → starting → booting → running → shutdown/error). */
export interface BootSessionEventBody {
  sessionId: string;
  clientId: string;
  status: 'starting' | 'booting' | 'running' | 'shutdown' | 'error';
  previousStatus: string | null;
  clientIp: string | null;
  /** Seconds from the session's start to `running`, once known. */
  bootTimeSeconds: number | null;
  /** Milliseconds since the session started. */
  elapsedMs: number | null;
  error: string | null;
  reason: string | null;
}

/** Body of `dhcp`: one DHCP exchange with a client (what it sent, what DLS answered). */
export interface DhcpEventBody {
  mac: string;
  clientId: string | null;
  rangeId: string;
  range: string;
  /** Transaction id, hex. */
  xid: string;
  message: 'discover' | 'request' | 'decline' | 'release' | 'inform';
  reply: 'offer' | 'ack' | 'nak' | null;
  ip: string | null;
  proxy: boolean;
  reason: string | null;
}

/** Body of `tftp`: one finished TFTP transfer. */
export interface TftpEventBody {
  file: string;
  clientIp: string;
  /** The client that has `clientIp` (from its recent DHCP traffic or its lease), null when DLS does not know. */
  clientId: string | null;
  /** That client's MAC as its DHCP traffic or lease gave it, null when unknown. */
  mac: string | null;
  bytes: number;
  durationMs: number;
  ok: boolean;
  error: string | null;
}

/** Body of `boot-file`: a boot file served whole over HTTP (`/boot/files/…`, e.g. a UEFI HTTP boot loader). */
export interface BootFileEventBody {
  file: string;
  clientIp: string;
  /** The client that has `clientIp` (from its recent DHCP traffic or its lease), null when DLS does not know. */
  clientId: string | null;
  mac: string | null;
  bytes: number;
  durationMs: number;
}

/** Body of `boot-script`: a boot script request and what it got. */
export interface BootScriptEventBody {
  mac: string | null;
  clientId: string | null;
  clientIp: string | null;
  outcome: 'served' | 'refused' | 'error';
  /** For refusals and errors: why (e.g. `untrusted requester`, `disk in use`, `disabled`, `unknown client`). */
  reason: string | null;
}

/** Body of `iscsi.login` / `iscsi.logout`: a client's disk login appeared in / left tgt's listing. */
export interface IscsiEventBody {
  clientId: string;
  ip: string | null;
}

/** Body of `image.import`: an upload/import started, progressed, finished or failed. */
export interface ImageImportEventBody {
  imageId: string;
  name: string;
  phase: 'started' | 'progress' | 'done' | 'failed';
  percent: number | null;
  sizeBytes: number | null;
  error: string | null;
}

/** Body of `version.published`. */
export interface VersionPublishedEventBody {
  imageId: string;
  versionId: string;
  name: string;
}

/** Body of `storage.alert`: a storage operation was refused for lack of free space. */
export interface StorageAlertEventBody {
  freeBytes: number;
  neededBytes: number;
  minFreeBytes: number;
  message: string;
}

/** One client's outcome in a `wake` batch. */
export interface WakeClientEventBody {
  clientId: string;
  hostname: string;
  macAddress: string;
  status: 'ok' | 'failed';
  /** Why no packet left (failed only), e.g. `WAKE_RANGE_NO_INTERFACE`. */
  code?: string;
  message?: string;
  rangeId?: string;
  range?: string;
  interface?: string;
  /** How the client's range was found: reservation, lease, boot session or the group's default range. */
  source?: string;
}

/** Body of `wake`: a finished Wake-on-LAN batch (one client, a group, a bulk action or a schedule run). */
export interface WakeEventBody {
  trigger: 'client' | 'group' | 'bulk' | 'schedule';
  groupId?: string;
  scheduleId?: string;
  total: number;
  sent: number;
  failed: number;
  clients: WakeClientEventBody[];
}

/** Body of `audit` (admin only): one audit-trail entry. */
export interface AuditEventBody {
  action: string;
  entityType: string;
  entityId: string | null;
  username: string | null;
  statusCode: number | null;
  remoteAddress: string | null;
}

/**
 * Body of `change` (every role): a write through the API succeeded, without who or from where (that is `audit`,
 * admin only). The dashboard refreshes what it shows of that kind of record, so no page polls.
 */
export interface ChangeEventBody {
  action: string;
  entityType: string;
  entityId: string | null;
}

/**
 * Body of `range.holder`: a node took a network range over (it answers the range's DHCP from now on), handed it back
 * (shutdown, draining, range disabled) or lost it (its hold ran out unrenewed: it stopped answering).
 */
export interface RangeHolderEventBody {
  rangeId: string;
  range: string | null;
  node: string;
  action: 'taken' | 'handed-back' | 'lost';
  /** Hand-overs of the range so far (taken: this holder's). */
  epoch: string | null;
}

/**
 * Body of `version.replica`: a node started copying an image version from another node, verified its copy (it may boot
 * clients from it now), or failed (retried later; `error` says why).
 */
export interface VersionReplicaEventBody {
  versionId: string;
  version: string;
  imageId: string;
  image: string;
  /** The node the copy is for (DLS_NODE_NAME). */
  node: string;
  state: 'copying' | 'verified' | 'failed';
  sourceNode: string | null;
  /** raw, zfs-full, zfs-incremental (local: it was already here). */
  method: string | null;
  bytes: number;
  seconds: number | null;
  error: string | null;
}

/** Each stored type's body. */
export interface EventBodies {
  'boot-session': BootSessionEventBody;
  dhcp: DhcpEventBody;
  tftp: TftpEventBody;
  'boot-file': BootFileEventBody;
  'boot-script': BootScriptEventBody;
  'iscsi.login': IscsiEventBody;
  'iscsi.logout': IscsiEventBody;
  'image.import': ImageImportEventBody;
  'version.published': VersionPublishedEventBody;
  'storage.alert': StorageAlertEventBody;
  wake: WakeEventBody;
  'range.holder': RangeHolderEventBody;
  'version.replica': VersionReplicaEventBody;
  audit: AuditEventBody;
  change: ChangeEventBody;
}

export interface PublishOptions {
  /** Lowest role that may see the event; default viewer. */
  minRole?: Role;
}

/**
 * The port other modules publish through (token {@link EVENT_PUBLISHER}, provided globally by the events module).
 * `emit` never blocks or throws: events go to a bounded in-memory buffer flushed in batches; when it is full the
 * oldest are dropped (counted, logged once per interval). Safe on the DHCP/TFTP/script hot paths.
 */
export interface EventPublisher {
  emit<T extends EventType>(type: T, body: EventBodies[T], options?: PublishOptions): void;
  /**
   * Calls `listener` whenever another node (sharing the database) has published events — a cue to look at shared state
   * now rather than at the next poll. Carries nothing: the listener reads what it needs.
   */
  onOtherNodesPublished?(listener: () => void): void;
}

export const EVENT_PUBLISHER = Symbol('dls:eventPublisher');

/** An event as stored and delivered. */
export interface StoredEvent {
  /** bigserial as a decimal string. */
  id: string;
  type: EventType;
  at: Date;
  node: string;
  minRole: Role;
  body: Record<string, unknown>;
}
