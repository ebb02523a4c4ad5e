import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches } from 'class-validator';
import { CONTROL_EVENT_TYPES, EVENT_TYPES } from '../event-types';
import type {
  AuditEventBody,
  ChangeEventBody,
  BootScriptEventBody,
  BootSessionEventBody,
  DhcpEventBody,
  ImageImportEventBody,
  IscsiEventBody,
  RangeHolderEventBody,
  VersionReplicaEventBody,
  StorageAlertEventBody,
  TftpEventBody,
  BootFileEventBody,
  VersionPublishedEventBody,
  WakeClientEventBody,
  WakeEventBody,
} from '../event-types';

export class EventTicketDto {
  @ApiProperty({ description: 'single-use; pass as `GET /api/v1/events?ticket=` within 30 s' })
  ticket: string;

  @ApiProperty({ type: String, format: 'date-time' })
  expiresAt: Date;
}

export class StreamEventsQueryDto {
  @ApiPropertyOptional({ description: 'stream ticket from POST /api/v1/events/ticket (instead of an Authorization header)' })
  @IsOptional()
  @IsString()
  @Length(1, 128)
  ticket?: string;

  @ApiPropertyOptional({ description: 'resume after this event id (as the Last-Event-ID header does; the header wins)', example: '1042' })
  @IsOptional()
  @Matches(/^\d{1,18}$/, { message: 'lastEventId must be a decimal event id' })
  lastEventId?: string;
}

// ---- one schema per event type's body ----

export class BootSessionEventBodyDto implements BootSessionEventBody {
  @ApiProperty({ format: 'uuid' }) sessionId: string;
  @ApiProperty({ format: 'uuid' }) clientId: string;
  @ApiProperty({ enum: ['starting', 'booting', 'running', 'shutdown', 'error'] }) status: BootSessionEventBody['status'];
  @ApiProperty({ type: String, nullable: true }) previousStatus: string | null;
  @ApiProperty({ type: String, nullable: true, example: '10.0.0.100' }) clientIp: string | null;
  @ApiProperty({ type: Number, nullable: true, description: 'seconds from start to running' }) bootTimeSeconds: number | null;
  @ApiProperty({ type: Number, nullable: true, description: 'milliseconds since the session started' }) elapsedMs: number | null;
  @ApiProperty({ type: String, nullable: true }) error: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'why a session was shut down' }) reason: string | null;
}

export class DhcpEventBodyDto implements DhcpEventBody {
  @ApiProperty({ example: '52:54:00:12:34:56' }) mac: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) clientId: string | null;
  @ApiProperty({ format: 'uuid' }) rangeId: string;
  @ApiProperty() range: string;
  @ApiProperty({ example: '1a2b3c4d' }) xid: string;
  @ApiProperty({ enum: ['discover', 'request', 'decline', 'release', 'inform'] }) message: DhcpEventBody['message'];
  @ApiProperty({ enum: ['offer', 'ack', 'nak'], nullable: true, type: String }) reply: DhcpEventBody['reply'];
  @ApiProperty({ type: String, nullable: true }) ip: string | null;
  @ApiProperty() proxy: boolean;
  @ApiProperty({ type: String, nullable: true }) reason: string | null;
}

export class TftpEventBodyDto implements TftpEventBody {
  @ApiProperty({ example: 'undionly.kpxe' }) file: string;
  @ApiProperty({ example: '10.0.0.100' }) clientIp: string;
  @ApiProperty({
    type: String,
    format: 'uuid',
    nullable: true,
    description: 'the client that has clientIp (its recent DHCP traffic or its lease); null when DLS does not know',
  })
  clientId: string | null;
  @ApiProperty({ type: String, nullable: true, example: '52:54:00:12:34:56', description: "that client's MAC; null when unknown" })
  mac: string | null;
  @ApiProperty() bytes: number;
  @ApiProperty() durationMs: number;
  @ApiProperty() ok: boolean;
  @ApiProperty({ type: String, nullable: true }) error: string | null;
}

export class BootFileEventBodyDto implements BootFileEventBody {
  @ApiProperty({ example: 'ipxe.efi' }) file: string;
  @ApiProperty({ example: '10.0.0.100' }) clientIp: string;
  @ApiProperty({
    type: String,
    format: 'uuid',
    nullable: true,
    description: 'the client that has clientIp (its recent DHCP traffic or its lease); null when DLS does not know',
  })
  clientId: string | null;
  @ApiProperty({ type: String, nullable: true, example: '52:54:00:12:34:56', description: "that client's MAC; null when unknown" })
  mac: string | null;
  @ApiProperty() bytes: number;
  @ApiProperty() durationMs: number;
}

export class BootScriptEventBodyDto implements BootScriptEventBody {
  @ApiProperty({ type: String, nullable: true }) mac: string | null;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) clientId: string | null;
  @ApiProperty({ type: String, nullable: true }) clientIp: string | null;
  @ApiProperty({ enum: ['served', 'refused', 'error'] }) outcome: BootScriptEventBody['outcome'];
  @ApiProperty({ type: String, nullable: true }) reason: string | null;
}

export class IscsiEventBodyDto implements IscsiEventBody {
  @ApiProperty({ format: 'uuid' }) clientId: string;
  @ApiProperty({ type: String, nullable: true }) ip: string | null;
}

export class ImageImportEventBodyDto implements ImageImportEventBody {
  @ApiProperty({ format: 'uuid' }) imageId: string;
  @ApiProperty() name: string;
  @ApiProperty({ enum: ['started', 'progress', 'done', 'failed'] }) phase: ImageImportEventBody['phase'];
  @ApiProperty({ type: Number, nullable: true }) percent: number | null;
  @ApiProperty({ type: Number, nullable: true }) sizeBytes: number | null;
  @ApiProperty({ type: String, nullable: true }) error: string | null;
}

export class VersionPublishedEventBodyDto implements VersionPublishedEventBody {
  @ApiProperty({ format: 'uuid' }) imageId: string;
  @ApiProperty({ format: 'uuid' }) versionId: string;
  @ApiProperty() name: string;
}

export class StorageAlertEventBodyDto implements StorageAlertEventBody {
  @ApiProperty() freeBytes: number;
  @ApiProperty() neededBytes: number;
  @ApiProperty() minFreeBytes: number;
  @ApiProperty() message: string;
}

export class WakeClientEventBodyDto implements WakeClientEventBody {
  @ApiProperty({ format: 'uuid' }) clientId: string;
  @ApiProperty() hostname: string;
  @ApiProperty({ example: '52:54:00:12:34:56' }) macAddress: string;
  @ApiProperty({ enum: ['ok', 'failed'] }) status: 'ok' | 'failed';
  @ApiPropertyOptional({ description: 'why no packet left (failed only)', example: 'WAKE_RANGE_NO_INTERFACE' }) code?: string;
  @ApiPropertyOptional() message?: string;
  @ApiPropertyOptional({ format: 'uuid' }) rangeId?: string;
  @ApiPropertyOptional() range?: string;
  @ApiPropertyOptional() interface?: string;
  @ApiPropertyOptional({ description: "how the client's range was found", example: 'lease' }) source?: string;
}

export class WakeEventBodyDto implements WakeEventBody {
  @ApiProperty({ enum: ['client', 'group', 'bulk', 'schedule'] }) trigger: 'client' | 'group' | 'bulk' | 'schedule';
  @ApiPropertyOptional({ format: 'uuid' }) groupId?: string;
  @ApiPropertyOptional({ format: 'uuid' }) scheduleId?: string;
  @ApiProperty() total: number;
  @ApiProperty() sent: number;
  @ApiProperty() failed: number;
  @ApiProperty({ type: [WakeClientEventBodyDto] }) clients: WakeClientEventBodyDto[];
}

export class RangeHolderEventBodyDto implements RangeHolderEventBody {
  @ApiProperty({ format: 'uuid' }) rangeId: string;
  @ApiProperty({ type: String, nullable: true }) range: string | null;
  @ApiProperty({ description: 'the node (DLS_NODE_NAME)', example: 'dls-a' }) node: string;
  @ApiProperty({ enum: ['taken', 'handed-back', 'lost'] }) action: 'taken' | 'handed-back' | 'lost';
  @ApiProperty({ type: String, nullable: true, description: 'hand-overs of the range so far', example: '2' }) epoch: string | null;
}

export class VersionReplicaEventBodyDto implements VersionReplicaEventBody {
  @ApiProperty({ format: 'uuid' }) versionId: string;
  @ApiProperty({ example: 'v3' }) version: string;
  @ApiProperty({ format: 'uuid' }) imageId: string;
  @ApiProperty({ example: 'win11-lab' }) image: string;
  @ApiProperty({ description: 'the node the copy is for (DLS_NODE_NAME)', example: 'dls-b' }) node: string;
  @ApiProperty({ enum: ['copying', 'verified', 'failed'], description: 'verified: the copy matches the sha256 recorded when the version was made' })
  state: 'copying' | 'verified' | 'failed';
  @ApiProperty({ type: String, nullable: true, description: 'the node it is copied from', example: 'dls-a' }) sourceNode: string | null;
  @ApiProperty({ type: String, nullable: true, enum: ['raw', 'zfs-full', 'zfs-incremental', 'local'] }) method: string | null;
  @ApiProperty({ description: 'bytes received' }) bytes: number;
  @ApiProperty({ type: Number, nullable: true, description: 'seconds the copy took (with the check)' }) seconds: number | null;
  @ApiProperty({ type: String, nullable: true }) error: string | null;
}

export class AuditEventBodyDto implements AuditEventBody {
  @ApiProperty({ example: 'clients.create' }) action: string;
  @ApiProperty({ example: 'clients' }) entityType: string;
  @ApiProperty({ type: String, nullable: true }) entityId: string | null;
  @ApiProperty({ type: String, nullable: true }) username: string | null;
  @ApiProperty({ type: Number, nullable: true }) statusCode: number | null;
  @ApiProperty({ type: String, nullable: true }) remoteAddress: string | null;
}

export class ChangeEventBodyDto implements ChangeEventBody {
  @ApiProperty({ example: 'clients.update' }) action: string;
  @ApiProperty({ example: 'clients', description: 'the kind of record (the API path segment)' }) entityType: string;
  @ApiProperty({ type: String, nullable: true }) entityId: string | null;
}

export class ResetEventBodyDto {
  @ApiProperty({ description: 'the client should reload its state, then reconnect without Last-Event-ID' }) reason: string;
}

export class DroppedEventBodyDto {
  @ApiProperty({ description: 'the stream ends: the client did not read fast enough' }) reason: string;
}

/** Event type → its body schema (documented on the stream route). */
export const EVENT_BODY_MODELS = {
  'boot-session': BootSessionEventBodyDto,
  dhcp: DhcpEventBodyDto,
  tftp: TftpEventBodyDto,
  'boot-file': BootFileEventBodyDto,
  'boot-script': BootScriptEventBodyDto,
  'iscsi.login': IscsiEventBodyDto,
  'iscsi.logout': IscsiEventBodyDto,
  'image.import': ImageImportEventBodyDto,
  'version.published': VersionPublishedEventBodyDto,
  'storage.alert': StorageAlertEventBodyDto,
  wake: WakeEventBodyDto,
  'range.holder': RangeHolderEventBodyDto,
  'version.replica': VersionReplicaEventBodyDto,
  audit: AuditEventBodyDto,
  change: ChangeEventBodyDto,
  reset: ResetEventBodyDto,
  dropped: DroppedEventBodyDto,
} as const;

const uniqueModels = [...new Set(Object.values(EVENT_BODY_MODELS))];

/**
 * The JSON in each SSE message's `data` line. `type` equals the SSE `event` field and selects the body schema:
 * boot-session → BootSessionEventBodyDto, dhcp → DhcpEventBodyDto, tftp → TftpEventBodyDto, boot-file → BootFileEventBodyDto, boot-script →
 * BootScriptEventBodyDto, iscsi.login/iscsi.logout → IscsiEventBodyDto, image.import → ImageImportEventBodyDto,
 * version.published → VersionPublishedEventBodyDto, storage.alert → StorageAlertEventBodyDto, wake → WakeEventBodyDto, range.holder →
 * RangeHolderEventBodyDto, version.replica → VersionReplicaEventBodyDto, audit (admin only) →
 * AuditEventBodyDto, change → ChangeEventBodyDto; control messages reset → ResetEventBodyDto and dropped → DroppedEventBodyDto carry no id.
 */
@ApiExtraModels(...uniqueModels)
export class EventMessageDto {
  @ApiPropertyOptional({ description: 'event id (also the SSE `id`; absent on control messages)', example: '1042' })
  id?: string;

  @ApiProperty({ enum: [...EVENT_TYPES, ...CONTROL_EVENT_TYPES] })
  type: string;

  @ApiProperty({ type: String, format: 'date-time' })
  time: string;

  @ApiPropertyOptional({ description: 'the DLS node that published it' })
  node?: string;

  @ApiProperty({
    description: 'per type, see the type → schema list of EventMessageDto',
    oneOf: uniqueModels.map((m) => ({ $ref: getSchemaPath(m) })),
  })
  body: Record<string, unknown>;
}
