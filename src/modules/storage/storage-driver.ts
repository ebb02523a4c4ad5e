import type { Readable } from 'node:stream';

/**
 * The storage port: how DLS keeps golden images, their immutable versions and per-client copy-on-write disks.
 *
 * Model: an image is a container holding `disk.raw`; a version is an immutable point-in-time copy of it; a client
 * disk is a writable CoW copy of one version. Two implementations exist: {@link ZfsStorageDriver} (datasets,
 * snapshots, clones) and {@link DirStorageDriver} (plain directories with reflink-or-copy). All ids are UUIDs.
 */

/**
 * How client disks are produced: zfs clone, file reflink, a qcow2 overlay over the version served as a raw file
 * (dir driver without reflink), or a full (sparse-aware) copy.
 */
export type CloneMethod = 'zfs-clone' | 'reflink' | 'overlay' | 'copy';

/** Capacity and health of the storage backend. Byte counts are exact integers. */
export interface StorageStatus {
  driver: 'zfs' | 'dir';
  /** zfs: the root dataset (e.g. `tank/dls`); dir: the absolute root directory. */
  root: string;
  cloneMethod: CloneMethod;
  totalBytes: number;
  freeBytes: number;
  usedBytes: number;
  healthy: boolean;
  /** Human-readable extra: pool health, reason for unhealthy, ... */
  detail?: string;
}

/** An image version. `ref` is the snapshot name (zfs) or the version file path (dir). */
export interface VersionInfo {
  ref: string;
  /** Bytes of data the version refers to (zfs `referenced`; dir: allocated blocks of the version file). */
  referencedBytes: number;
  /** Bytes held only by this version (zfs `used`; dir: allocated blocks, an upper bound when reflinked). */
  usedBytes: number;
}

/** A client's writable disk. `path` is the raw file to export over iSCSI. */
export interface DiskInfo {
  clientId: string;
  path: string;
  imageId: string;
  versionId: string;
  /** Apparent (virtual) size of the raw disk file. */
  sizeBytes: number;
  /** Bytes written by the client since provisioning (zfs `usedbydataset`; dir: see the driver's notes). */
  writtenBytes: number;
}

/**
 * Something DLS created on the backend; used by reconciliation to find orphans. `staging` is a file or directory in
 * an image's staging area (an upload or conversion in progress, or the leftover of one a crash interrupted).
 */
export interface ManagedItem {
  kind: 'image' | 'version' | 'client-disk' | 'staging';
  /** Dataset/snapshot name (zfs) or absolute path (dir; and a staging entry's path for both). */
  ref: string;
  imageId?: string;
  versionId?: string;
  clientId?: string;
}

/**
 * A version on its way to another node. `raw`: the version's disk bytes (dir driver). `zfs-full` / `zfs-incremental`:
 * a `zfs send` stream (incremental from `baseVersionId`, which the receiver must hold).
 */
export type VersionStreamFormat = 'raw' | 'zfs-full' | 'zfs-incremental';

export interface OutgoingVersion {
  format: VersionStreamFormat;
  /** The version an incremental stream is relative to; null for a full stream or raw bytes. */
  baseVersionId: string | null;
  /** Exact byte count when known up front (raw: the file's size), else null. */
  sizeBytes: number | null;
  /** The bytes. Destroying it ends what produces it (a `zfs send` process) and removes nothing. */
  stream: Readable;
}

export interface IncomingVersion {
  format: VersionStreamFormat;
  baseVersionId: string | null;
  /**
   * The byte count the sender announced (its {@link OutgoingVersion.sizeBytes}), when known: a `raw` stream of
   * another length is refused (it has no framing of its own; a zfs stream does). The driver consumes or destroys
   * `stream` in every case.
   */
  sizeBytes?: number | null;
  stream: Readable;
}

/** See the module comment. Every method validates ids and throws {@link StorageError} only. */
export interface StorageDriver {
  readonly kind: 'zfs' | 'dir';
  /** zfs: pool present and ONLINE, `zfs mount -a`, create `<root>/images` and `<root>/clients`; dir: mkdirs. */
  init(): Promise<void>;
  status(): Promise<StorageStatus>;
  /** Creates the image container (idempotent); returns the absolute path of `disk.raw` (which may not exist yet). */
  ensureImage(imageId: string): Promise<string>;
  /** Absolute path of the image's `disk.raw` (no I/O; valid after `init()`). */
  imageDiskPath(imageId: string): string;
  /** A directory on the same filesystem as the image, for uploads/conversions; removed by `destroyImage`. */
  stagingDir(imageId: string): Promise<string>;
  /** Apparent size of `disk.raw`, 0 if absent. */
  imageSizeBytes(imageId: string): Promise<number>;
  /** Idempotent; refuses with HAS_DEPENDENTS while versions exist. */
  destroyImage(imageId: string): Promise<void>;
  /** Freezes the current `disk.raw` as version `versionId` (idempotent). */
  createVersion(imageId: string, versionId: string): Promise<VersionInfo>;
  versionInfo(imageId: string, versionId: string): Promise<VersionInfo | null>;
  /**
   * The version's content for another node's {@link receiveVersion}. zfs: `zfs send`, incremental from
   * `baseVersionId` when that snapshot exists here (else a full stream); dir: the version file (`raw`).
   * NOT_FOUND when the version is not here.
   */
  sendVersion(imageId: string, versionId: string, baseVersionId?: string | null): Promise<OutgoingVersion>;
  /**
   * Makes what another node's {@link sendVersion} produced version `versionId` here (creating the image container if
   * needed), ready for client disks exactly as a local createVersion would be. On any failure (a broken stream, a
   * missing base, no space) nothing of it is left behind. ALREADY_EXISTS when the version is already here.
   */
  receiveVersion(imageId: string, versionId: string, incoming: IncomingVersion): Promise<VersionInfo>;
  /**
   * Lower-case hex sha256 of the version's disk bytes (reads them all: not for hot paths). NOT_FOUND when absent. An
   * aborted `signal` (DLS shutting down) stops the reading: it rejects with the signal's reason.
   */
  versionSha256(imageId: string, versionId: string, options?: { signal?: AbortSignal }): Promise<string>;
  /** Refuses with HAS_DEPENDENTS (`details.clientIds`) while client disks depend on it; idempotent. */
  destroyVersion(imageId: string, versionId: string): Promise<void>;
  /** Idempotent; a disk of ANOTHER image/version for this client → ALREADY_EXISTS (caller destroys first). */
  ensureClientDisk(clientId: string, imageId: string, versionId: string): Promise<DiskInfo>;
  /**
   * The client's disk, or null when storage has none (made elsewhere, or deleted by hand: the caller re-creates it).
   * On the boot path: no process or database round trip per call. `writtenBytes` may then be the last figure the
   * backend reported (zfs); `exact` asks the backend for a current one (one `zfs get`; the dir driver is always exact).
   */
  clientDisk(clientId: string, options?: { exact?: boolean }): Promise<DiskInfo | null>;
  /** Every client disk, in one pass (one `zfs get -r`; one directory listing) — for accounting, not per-boot work. */
  listClientDisks(): Promise<DiskInfo[]>;
  /** Idempotent. The caller must have unexported the disk first. */
  destroyClientDisk(clientId: string): Promise<void>;
  /** Copies the client disk's current content over the image's `disk.raw` (a following createVersion captures it). */
  commitClientDisk(clientId: string, imageId: string): Promise<void>;
  /**
   * Only what DLS created (zfs: `dls:managed=1` set locally + `dls:*` ids; dir: our layout with UUID names), plus
   * every entry of each image's staging directory (kind `staging`, with its imageId).
   */
  inventory(): Promise<ManagedItem[]>;
  destroyManaged(item: ManagedItem): Promise<void>;
  /** What each version and each client disk holds on the backend, in one pass (for metrics; not on a hot path). */
  spaceUsage(): Promise<SpaceUsage>;
  /** Ends what the driver runs besides files (dir overlays: the qemu-storage-daemon); at application shutdown. */
  close?(): Promise<void>;
  /**
   * Client disks whose backing was re-opened after a failure (dir overlays: the daemon was restarted): an exporter
   * holding them open must re-open them.
   */
  onDisksReattached?(listener: (clientIds: string[]) => void): void;
}

/**
 * Bytes each version and client disk takes. zfs: a version snapshot's `used` (the blocks only it still holds) and a
 * client clone's `usedbydataset` (what the client wrote); dir: each file's allocated blocks (a full copy counts whole).
 */
export interface SpaceUsage {
  versions: { imageId: string; versionId: string; bytes: number }[];
  clientDisks: { clientId: string; bytes: number }[];
}
