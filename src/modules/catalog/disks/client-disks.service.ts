import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { ClusterService } from '../../cluster';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { NotFoundError } from '@common/errors/domain-error';
import { IscsiExportsService } from '../../iscsi';
import { ReplicationService } from '../../replication';
import { Client } from '../clients/client.entity';
import { DiskPolicy, Image } from '../images/image.entity';
import { ImageSnapshot } from '../versions/image-snapshot.entity';
import { diskPolicyOf } from '../boot-policy/boot-policy';
import { BootPolicyService, BootTarget } from '../boot-policy/boot-policy.service';
import { ClientDisk } from './client-disk.entity';
import { ClientDiskErrorCode } from './client-disks.errors';
import { KeyedLock } from '@common/concurrency/keyed-lock';
import { SpaceGuard, STORAGE_DRIVER, storageCall } from '../../storage';
import type { StorageDriver } from '../../storage';

export interface ClientDiskView {
  clientId: string;
  path: string;
  imageId: string;
  versionId: string;
  versionName: string;
  policy: DiskPolicy;
  isMaintenance: boolean;
  sizeBytes: number;
  writtenBytes: number;
  state: ClientDisk['state'];
  /** The node whose storage holds it (null: made before DLS recorded it). */
  nodeId: string | null;
  createdAt: Date;
}

type Target = Pick<BootTarget, 'client' | 'image' | 'version' | 'policy' | 'isMaintenance'>;

/**
 * Client disks: one writable copy-on-write disk per client, cloned from the version the client boots (its pinned
 * version, else the image's published one; the image's maintenance client gets the newest version, persistent).
 *
 * Every multi-step change is an idempotent "ensure" under a per-client lock, with the intent written to
 * `client_disks` first, so a crash or failure half-way leaves nothing the next call can't converge.
 */
@Injectable()
export class ClientDisksService {
  private readonly logger = new Logger(ClientDisksService.name);
  private readonly locks = new KeyedLock();

  constructor(
    @Inject(STORAGE_DRIVER) private readonly driver: StorageDriver,
    @InjectRepository(Client) private readonly clients: Repository<Client>,
    @InjectRepository(Image) private readonly images: Repository<Image>,
    @InjectRepository(ImageSnapshot) private readonly versions: Repository<ImageSnapshot>,
    @InjectRepository(ClientDisk) private readonly disks: Repository<ClientDisk>,
    private readonly space: SpaceGuard,
    private readonly policy: BootPolicyService,
    private readonly iscsi: IscsiExportsService,
    private readonly replication: ReplicationService,
    @Optional() private readonly cluster?: ClusterService,
  ) {
    // Disks re-mounted under tgtd (the dir driver's overlay daemon restarted): their LUNs must re-open the files.
    this.driver.onDisksReattached?.((ids) => void this.iscsi.reopenExports(ids));
  }

  /**
   * Makes sure the client has a ready disk of the version it should boot and describes it. Idempotent and safe
   * to call concurrently (per-client lock); a disk of another version is replaced (the client moved version).
   */
  async ensure(clientId: string): Promise<ClientDiskView> {
    return (await this.prepare(clientId)).disk;
  }

  /**
   * The boot step's half of {@link ensure}: the disk and the boot policy's {@link BootTarget} it was made for, so the
   * boot plane renders the script from the same answer the disk was cloned from (no second lookup).
   */
  async prepare(clientId: string): Promise<{ target: BootTarget; disk: ClientDiskView }> {
    return this.locks.run(clientId, async () => {
      const t = await this.policy.target(clientId);
      // Several nodes: a version this node has not copied and verified yet gives no disk here (409, and the script
      // tells the client to retry), rather than a 404 from storage or a disk of unchecked bytes.
      this.replication.assertBootable(t.version.id, t.version.name);
      let row = await this.disks.findOne({ where: { clientId } });
      let spaceChecked = false;
      // Another version, a half-made disk, or entering/leaving maintenance: start from a fresh clone.
      if (row && (row.snapshotId !== t.version.id || row.state !== 'ready' || row.isMaintenance !== t.isMaintenance)) {
        // The space check comes before the old disk goes: a 507 must leave the client's disk as it was. What the old
        // disk holds is counted as freed, since the new clone is only made once it is gone.
        const old = await storageCall(() => this.driver.clientDisk(clientId, { exact: true }));
        await this.space.ensure(Math.max(0, (await this.space.cloneCost(t.image.id)) - (old?.writtenBytes ?? 0)));
        spaceChecked = true;
        await this.destroyLocked(clientId, row.snapshotId !== t.version.id ? 'version-change' : 'destroy');
        row = null;
      }
      if (row) {
        // The boot path: the driver answers from what it keeps in memory (a stat, no zfs process); writtenBytes may lag.
        const info = await storageCall(() => this.driver.clientDisk(clientId));
        if (info && info.versionId === t.version.id) {
          return { target: t, disk: this.view(row, t, info.sizeBytes, info.writtenBytes) };
        }
        // The row says ready but this node's storage lacks it: made on another node (that node is gone or no longer
        // serves the client), or deleted by hand. A fresh clone here: a persistent client's writes stay with that node.
        const here = this.cluster?.id ?? null;
        if (row.nodeId && row.nodeId !== here) {
          this.logger.warn(
            `disk of client ${clientId} was on node ${row.nodeId}; a fresh clone of version ${t.version.name} here (its writes there are not copied)`,
          );
        } else this.logger.warn(`disk of client ${clientId} missing in storage; re-creating`);
      }
      if (!spaceChecked) await this.space.ensure(await this.space.cloneCost(t.image.id));
      await this.disks.upsert(
        {
          clientId,
          imageId: t.image.id,
          snapshotId: t.version.id,
          state: 'creating',
          path: null,
          isMaintenance: t.isMaintenance,
          nodeId: this.cluster?.id ?? null,
        },
        ['clientId'],
      );
      try {
        const info = await storageCall(() => this.driver.ensureClientDisk(clientId, t.image.id, t.version.id));
        await this.disks.update({ clientId }, { state: 'ready', path: info.path });
        const saved = (await this.disks.findOne({ where: { clientId } }))!;
        return { target: t, disk: this.view(saved, t, info.sizeBytes, info.writtenBytes) };
      } catch (e) {
        await this.driver.destroyClientDisk(clientId).catch(() => undefined);
        await this.disks.delete({ clientId });
        throw e;
      }
    });
  }

  /** Describes the client's disk, or 404 when it has none. */
  async describe(clientId: string): Promise<ClientDiskView> {
    const row = await this.disks.findOne({ where: { clientId } });
    if (!row) {
      if (!(await this.clients.exists({ where: { id: clientId } }))) throw new NotFoundError('client', clientId);
      throw new NotFoundError('disk of client', clientId, ClientDiskErrorCode.CLIENT_DISK_NOT_FOUND);
    }
    const [client, image, version, info] = await Promise.all([
      this.clients.findOneOrFail({ where: { id: clientId } }).then((c) => this.policy.resolve(c)),
      this.images.findOneOrFail({ where: { id: row.imageId } }),
      this.versions.findOneOrFail({ where: { id: row.snapshotId } }),
      storageCall(() => this.driver.clientDisk(clientId, { exact: true })),
    ]);
    const policy = diskPolicyOf(client, image, row.isMaintenance);
    return this.view(row, { client, image, version, policy, isMaintenance: row.isMaintenance }, info?.sizeBytes ?? 0, info?.writtenBytes ?? 0);
  }

  /** Discards the client's writes: unexport, destroy, fresh clone of the version it should boot now. */
  async reset(clientId: string): Promise<ClientDiskView> {
    await this.locks.run(clientId, async () => {
      if (!(await this.clients.exists({ where: { id: clientId } }))) throw new NotFoundError('client', clientId);
      await this.destroyLocked(clientId, 'reset');
    });
    return this.ensure(clientId);
  }

  /**
   * Removes the client's disk (unexported first). Idempotent. `then` runs under the same per-client lock once the disk
   * is gone (deleting the client): no disk can be made for it in between (a boot, or one made ahead).
   */
  async destroy<T = void>(clientId: string, then?: () => Promise<T>): Promise<T | undefined> {
    return this.locks.run(clientId, async () => {
      if (!(await this.clients.exists({ where: { id: clientId } }))) throw new NotFoundError('client', clientId);
      await this.destroyLocked(clientId, 'destroy');
      return then ? await then() : undefined;
    });
  }

  /** The disk policy in force for a client with a disk (used by the boot plane at shutdown). */
  async policyOf(clientId: string): Promise<DiskPolicy | null> {
    const row = await this.disks.findOne({ where: { clientId } });
    if (!row) return null;
    if (row.isMaintenance) return 'persistent';
    const client = await this.clients.findOne({ where: { id: clientId } });
    const image = await this.images.findOne({ where: { id: row.imageId } });
    return client && image ? diskPolicyOf(await this.policy.resolve(client), image, false) : 'reset';
  }

  /** Client hostnames whose disks depend on a version (for a 409 that names them). */
  async dependentsOf(versionId: string): Promise<string[]> {
    const rows = await this.disks.find({ where: { snapshotId: versionId }, relations: { client: true } });
    return rows.map((r) => r.client?.hostname ?? r.clientId);
  }

  private async destroyLocked(clientId: string, reason: 'reset' | 'destroy' | 'version-change'): Promise<void> {
    const row = await this.disks.findOne({ where: { clientId } });
    if (!row) {
      await storageCall(() => this.driver.destroyClientDisk(clientId)); // converge a stray disk too
      return;
    }
    this.logger.debug(`disk of client ${clientId} goes (${reason}): unexporting first`);
    await this.iscsi.removeExport(clientId, { force: true }); // never leave an initiator on a disk being replaced
    await this.disks.update({ clientId }, { state: 'destroying' });
    await storageCall(() => this.driver.destroyClientDisk(clientId));
    await this.disks.delete({ clientId });
  }

  private view(row: ClientDisk, t: Target, sizeBytes: number, writtenBytes: number): ClientDiskView {
    return {
      clientId: row.clientId,
      path: row.path ?? '',
      imageId: row.imageId,
      versionId: row.snapshotId,
      versionName: t.version.name,
      policy: t.policy,
      isMaintenance: row.isMaintenance,
      sizeBytes,
      writtenBytes,
      state: row.state,
      nodeId: row.nodeId,
      createdAt: row.createdAt,
    };
  }
}
