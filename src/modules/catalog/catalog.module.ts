import { ClusterModule } from '../cluster';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { IscsiModule } from '../iscsi';
import { StorageModule } from '../storage';
import { ReplicationModule } from '../replication';
import { BootPolicyService } from './boot-policy/boot-policy.service';
import { ClientChangeSubscriber } from './boot-policy/client-change.subscriber';
import { ClientDirectory } from './boot-policy/client-directory';
import { BootSession } from './boot-sessions/boot-session.entity';
import { BootSessionsController } from './boot-sessions/boot-sessions.controller';
import { BootSessionsService } from './boot-sessions/boot-sessions.service';
import { Client } from './clients/client.entity';
import { ClientsController } from './clients/clients.controller';
import { ClientsService } from './clients/clients.service';
import { ClientActionsService } from './clients/client-actions.service';
import { ClientWakerRegistry } from './clients/client-waker.registry';
import { ClientDisk } from './disks/client-disk.entity';
import { ClientDisksController } from './disks/client-disks.controller';
import { ClientDisksService } from './disks/client-disks.service';
import { DisksAhead } from './disks/disks-ahead.service';
import { Image } from './images/image.entity';
import { ImageContentController } from './images/image-content.controller';
import { ImageContentService } from './images/image-content.service';
import { ImagesController } from './images/images.controller';
import { ImagesService } from './images/images.service';
import { StorageController } from './inventory/storage.controller';
import { StorageInventoryService } from './inventory/storage-inventory.service';
import { ClientGroup } from './groups/client-group.entity';
import { ClientGroupChangeSubscriber } from './groups/client-group-change.subscriber';
import { ClientGroupDirectory } from './groups/client-group-directory';
import { ClientGroupsController } from './groups/client-groups.controller';
import { ClientGroupsService } from './groups/client-groups.service';
import { ImageSnapshot } from './versions/image-snapshot.entity';
import { ImageVersionsService } from './versions/image-versions.service';
import { SnapshotsController } from './versions/snapshots.controller';
import { SnapshotsService } from './versions/snapshots.service';

/**
 * The catalogue: images and their content, versions (snapshots) and the maintenance flow, clients, their
 * copy-on-write disks, boot sessions, and the boot policy that says what a MAC boots. It owns these tables and is
 * the only module that reads or writes them; everyone else goes through the services exported here.
 *
 * Depends only downwards: on the storage driver (where disks and versions live) and on the iSCSI module (a disk is
 * unexported before it is destroyed or replaced). The boot plane (pxe-boot) depends on it, never the reverse.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([Image, ImageSnapshot, Client, ClientDisk, BootSession, ClientGroup]),
    ClusterModule,
    StorageModule,
    IscsiModule,
    ReplicationModule,
  ],
  controllers: [
    ImagesController,
    SnapshotsController,
    StorageController,
    ImageContentController,
    ClientDisksController,
    ClientsController,
    ClientGroupsController,
    BootSessionsController,
  ],
  providers: [
    ImagesService,
    ImageContentService,
    SnapshotsService,
    ImageVersionsService,
    ClientsService,
    ClientActionsService,
    ClientWakerRegistry,
    ClientDisksService,
    DisksAhead,
    BootSessionsService,
    ClientDirectory,
    BootPolicyService,
    ClientChangeSubscriber,
    ClientGroupsService,
    ClientGroupDirectory,
    ClientGroupChangeSubscriber,
    StorageInventoryService,
  ],
  exports: [
    BootPolicyService,
    ClientDirectory,
    ClientDisksService,
    BootSessionsService,
    ClientsService,
    ImagesService,
    SnapshotsService,
    ClientWakerRegistry,
  ],
})
export class CatalogModule {}
