import { Injectable, Logger } from '@nestjs/common';
import { effectiveSettings } from '../catalog';
import { EventsService } from '../events';
import { IscsiExportsService } from '../iscsi';
import { RoomClientDto, RoomSnapshotDto } from './dto/room.response.dto';
import { RoomClientRow, RoomImageRow, RoomQuery, RoomVersionRow } from './room.query';
import { deriveRoomState } from './room-state';

const iso = (d: Date | number | null): string | null => (d === null ? null : new Date(d).toISOString());
const date = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

/**
 * The Room snapshot: every client with what it boots and its live stage ({@link deriveRoomState}), in a fixed number
 * of steps whatever the number of clients — the newest event id first, then three queries ({@link RoomQuery}) and
 * one look at tgt's logins (`IscsiExportsService.activeSessions`: one `tgtadm` listing; empty when iSCSI is off) run
 * together. Reading the event id first is what makes resuming the stream from it safe: whatever changes after the
 * read comes as an event after it.
 */
@Injectable()
export class RoomService {
  private readonly logger = new Logger(RoomService.name);

  constructor(
    private readonly query: RoomQuery,
    private readonly events: EventsService,
    private readonly iscsi: IscsiExportsService,
  ) {}

  async snapshot(): Promise<RoomSnapshotDto> {
    const lastEventId = await this.events.latestId();
    const [clients, images, versions, logins] = await Promise.all([
      this.query.clients(),
      this.query.images(),
      this.query.bootableVersions(),
      this.iscsi.activeSessions().catch((err: unknown) => {
        this.logger.warn(`room: iSCSI logins unknown (${err instanceof Error ? err.message : String(err)}); no client shows disk-in-use`);
        return new Map<string, { since: Date }>();
      }),
    ]);
    const imageById = new Map(images.map((i) => [i.id, i]));
    const versionById = new Map(versions.map((v) => [v.id, v]));
    const publishedOf = new Map(versions.filter((v) => v.is_published).map((v) => [v.image_id, v]));
    return {
      generatedAt: new Date().toISOString(),
      lastEventId,
      clients: clients.map((r) => toTile(r, imageById, versionById, publishedOf, logins.get(r.id)?.since ?? null)),
    };
  }
}

function toTile(
  r: RoomClientRow,
  images: ReadonlyMap<string, RoomImageRow>,
  versions: ReadonlyMap<string, RoomVersionRow>,
  publishedOf: ReadonlyMap<string, RoomVersionRow>,
  loginSince: Date | null,
): RoomClientDto {
  const eff = effectiveSettings(
    {
      assignedImageId: r.assigned_image_id,
      pinnedSnapshotId: r.pinned_snapshot_id,
      diskPolicy: r.disk_policy,
      bootLoader: null,
      customBootParams: null,
    },
    r.group_id
      ? {
          imageId: r.group_image_id,
          pinnedSnapshotId: r.group_pinned_snapshot_id,
          diskPolicy: r.group_disk_policy,
          bootLoader: null,
          bootParams: null,
        }
      : null,
  );
  const imageId = eff.imageId.value;
  const image = imageId ? images.get(imageId) : undefined;
  const version = eff.pinnedSnapshotId.value ? versions.get(eff.pinnedSnapshotId.value) : imageId ? publishedOf.get(imageId) : undefined;
  const derived = deriveRoomState({
    session:
      r.session_id && r.session_status && r.started_at !== null
        ? {
            status: r.session_status,
            startedAt: new Date(r.started_at),
            endedAt: date(r.ended_at),
            dhcpAt: date(r.dhcp_at),
            loaderAt: date(r.loader_at),
            scriptAt: date(r.script_at),
            iscsiLoginAt: date(r.iscsi_login_at),
            runningAt: date(r.running_at),
          }
        : null,
    diskLogin: loginSince ? { since: loginSince } : null,
  });
  const d = new RoomClientDto();
  d.id = r.id;
  d.hostname = r.hostname;
  d.macAddress = r.mac_address;
  d.ipAddress = r.ip_address;
  d.groupId = r.group_id;
  d.enabled = r.enabled;
  d.pending = r.pending;
  d.imageId = imageId;
  d.imageName = image?.name ?? null;
  d.snapshotId = version?.id ?? null;
  d.versionLabel = version?.name ?? null;
  d.diskPolicy = eff.diskPolicy.value ?? image?.default_disk_policy ?? null;
  d.state = derived.state;
  d.stateSince = iso(derived.since);
  d.sessionId = derived.fromSession ? r.session_id : null;
  d.lastBootSeconds = r.last_boot_seconds === null ? null : Number(r.last_boot_seconds);
  d.lastBootAt = iso(r.last_boot_at);
  return d;
}
