import { AuditLog } from '../modules/audit/audit-log.entity';
import { RefreshToken } from '../modules/users/refresh-token.entity';
import { BootSession } from '../modules/catalog/boot-sessions/boot-session.entity';
import { Client } from '../modules/catalog/clients/client.entity';
import { Image } from '../modules/catalog/images/image.entity';
import { NetworkRange } from '../modules/network/network-range.entity';
import { ImageSnapshot } from '../modules/catalog/versions/image-snapshot.entity';
import { User } from '../modules/users/user.entity';
import { ClientDisk } from '../modules/catalog/disks/client-disk.entity';
import { IscsiExport } from '../modules/iscsi/iscsi-export.entity';
import { ClientGroup } from '../modules/catalog/groups/client-group.entity';
import { DhcpLease } from '../modules/pxe-boot/dhcp-lease.entity';
import { SignedLoaderFile } from '../modules/pxe-boot/signed-loaders/signed-loader.entity';
import { WakeSchedule } from '../modules/wake/schedules/wake-schedule.entity';
import { DlsEvent } from '../modules/events/event.entity';
import { DlsNode } from '../modules/cluster/node.entity';
import { SharedSecret } from '../modules/auth/shared-secret.entity';
import { RangeOwner } from '../modules/cluster/range-owner.entity';
import { VersionReplica } from '../modules/replication/version-replica.entity';

/** Every entity, listed explicitly (no globs: the same list works under ts-jest, ts-node and compiled dist/). */
export const ENTITIES = [
  Image,
  Client,
  BootSession,
  ImageSnapshot,
  NetworkRange,
  User,
  RefreshToken,
  AuditLog,
  ClientDisk,
  IscsiExport,
  DhcpLease,
  ClientGroup,
  WakeSchedule,
  DlsEvent,
  SignedLoaderFile,
  DlsNode,
  RangeOwner,
  SharedSecret,
  VersionReplica,
];
