import { ClusterService } from '../../cluster';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DataSource, Repository } from 'typeorm';
import { AppConfig } from '@config/config.loader';
import { KeyedLock, LockTimeoutError } from '@common/concurrency/keyed-lock';
import { ConflictError, NotFoundError, ValidationError } from '@common/errors/domain-error';
import { Image, ImageFormat } from './image.entity';
import { cloneOrCopyFile, QemuImgAdapter, SpaceGuard, STORAGE_DRIVER, storageCall } from '../../storage';
import type { StorageDriver } from '../../storage';
import { ImageContentErrorCode } from './images.errors';
import { EVENT_PUBLISHER, EventPublisher, ImageImportEventBody } from '../../events';
import { openImportSource } from './import-source';

/** Largest blank disk DLS creates (sparse, so this is a sanity bound, not space). */
const MAX_BLANK_BYTES = 16 * 1024 ** 4;
/** Longest wait for a row lock on `images` in the content's status updates (PostgreSQL `lock_timeout`). */
export const IMAGE_ROW_LOCK_TIMEOUT = '10s';
/** How often a streamed upload asks the filesystem again whether it is still above DLS_STORAGE_MIN_FREE. */
const RECHECK_EVERY_BYTES = 64 * 1024 * 1024;

/** What holds an image's content lock, for the 409 another request gets meanwhile. */
type ContentWork = 'import' | 'delete';

/** `allZeros`: the result is a blank sparse disk, whose sha256 is not worth reading it end to end (null instead). */
type Producer = (
  staging: string,
  progress: (pct: number) => Promise<void>,
) => Promise<{ rawPath: string; sourceFormat: ImageFormat; allZeros?: boolean }>;

/**
 * Puts content into an image's `disk.raw`: a blank sparse disk, a streamed upload, or a file from DLS_IMPORT_DIR,
 * in raw, qcow2 or vhdx (converted to raw with qemu-img). The upload streams to a staging file on the image's own
 * filesystem — never buffered whole in memory, counted against the free-space guard as it arrives — and only a
 * validated, converted result replaces `disk.raw`. Progress goes to the log and to `images.content_progress`; a
 * failure leaves no files and, if this call created the image's storage, no storage either.
 *
 * One in-process lock per image serialises its content work (upload, import, blank, delete). It is never waited
 * for: a second request gets 409 at once, and it is always taken before any database transaction, so a request
 * never holds a row lock while waiting for it (the other order deadlocked a DELETE against a running upload).
 */
@Injectable()
export class ImageContentService {
  private readonly logger = new Logger(ImageContentService.name);
  private readonly locks = new KeyedLock();
  private readonly work = new Map<string, ContentWork>();

  constructor(
    @Inject(STORAGE_DRIVER) private readonly driver: StorageDriver,
    @InjectRepository(Image) private readonly images: Repository<Image>,
    @InjectDataSource() private readonly ds: DataSource,
    private readonly qemuImg: QemuImgAdapter,
    private readonly space: SpaceGuard,
    private readonly config: AppConfig,
    @Optional() @Inject(EVENT_PUBLISHER) private readonly events?: EventPublisher,
    @Optional() private readonly cluster?: ClusterService,
  ) {}

  /** Where the image's raw disk lives (no I/O). */
  diskPathFor(imageId: string): string {
    return this.driver.imageDiskPath(imageId);
  }

  /** True while an upload, import or delete of this image runs in this process. */
  isBusy(imageId: string): boolean {
    return this.locks.isLocked(imageId);
  }

  /**
   * Runs `fn` holding the image's content lock — taken at once or refused with 409 (IMPORT_IN_PROGRESS while an
   * upload or import runs, IMAGE_BUSY otherwise). Callers open their database transaction inside `fn`, never around
   * this call.
   */
  async exclusive<T>(imageId: string, what: ContentWork, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.locks.run(
        imageId,
        async () => {
          this.work.set(imageId, what);
          try {
            return await fn();
          } finally {
            this.work.delete(imageId);
          }
        },
        { timeoutMs: 0 },
      );
    } catch (e) {
      if (!(e instanceof LockTimeoutError)) throw e;
      if (this.work.get(imageId) === 'import') {
        throw new ConflictError(
          ImageContentErrorCode.IMPORT_IN_PROGRESS,
          `image ${imageId} is being imported (an upload or import of its content is running): try again when it has finished`,
          { imageId },
        );
      }
      throw new ConflictError(ImageContentErrorCode.IMAGE_BUSY, `image ${imageId} is being changed by another request: try again`, { imageId });
    }
  }

  /** Removes the image's storage (its container and disk.raw). The caller holds {@link exclusive} and has checked it has no versions. */
  async removeStorage(imageId: string): Promise<void> {
    await storageCall(() => this.driver.destroyImage(imageId));
  }

  /**
   * At start, before anything else touches image content: imports that a crash or kill interrupted are marked
   * `failed` (their upload is gone), every staging leftover is removed (nothing is staging yet), and the import
   * directory is created. With several nodes on one database, an import another live node is running is left alone:
   * only this node's own (its earlier process), those of nodes that are down, and those of no known node are failed.
   */
  async recoverInterrupted(): Promise<void> {
    const importing = await this.images.find({ where: { contentStatus: 'importing' }, select: { id: true, name: true, contentNodeId: true } });
    const live = this.cluster ? await this.cluster.liveNodeIds() : new Set<string>();
    const stuck = importing.filter((i) => i.contentNodeId === null || i.contentNodeId === this.cluster?.id || !live.has(i.contentNodeId));
    for (const image of stuck) {
      await this.setContent(image.id, {
        contentStatus: 'failed',
        contentProgress: null,
        contentError: 'interrupted: DLS stopped while this content was being uploaded or imported; upload it again',
      });
      this.logger.warn(`image ${image.name}: its import was interrupted (DLS stopped); marked failed`);
    }
    const leftovers = (await storageCall(() => this.driver.inventory())).filter((i) => i.kind === 'staging' && !this.isBusy(i.imageId ?? ''));
    for (const item of leftovers) {
      await storageCall(() => this.driver.destroyManaged(item));
      this.logger.warn(`removed staging leftover ${item.ref}`);
    }
    await fs.mkdir(this.config.storage.importDir, { recursive: true, mode: 0o750 });
  }

  async createBlank(imageId: string, sizeBytes: number): Promise<Image> {
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 512 * 1024 || sizeBytes > MAX_BLANK_BYTES || sizeBytes % 512 !== 0) {
      throw new ValidationError('INVALID_SIZE', `sizeBytes must be a multiple of 512 between 512 KiB and 16 TiB`);
    }
    return this.replaceContent(imageId, 'raw', async (staging) => {
      const out = path.join(staging, `blank-${randomBytes(4).toString('hex')}.raw`);
      await storageCall(() => this.qemuImg.createBlank(out, sizeBytes));
      return { rawPath: out, sourceFormat: 'raw' as ImageFormat, allZeros: true };
    });
  }

  /**
   * Streams an upload (the HTTP request body) into the image. `declaredBytes` (Content-Length) is checked against
   * free space up front; every upload, chunked or not, is also counted against it while the bytes arrive and
   * stopped with 507 at the limit (nothing kept; the rest of the body is read and discarded so the answer arrives).
   */
  async upload(imageId: string, format: ImageFormat, body: Readable, declaredBytes?: number): Promise<Image> {
    // Known before anything is touched: an announced empty body changes nothing (no status, no staging).
    if (declaredBytes === 0) throw new ValidationError(ImageContentErrorCode.UPLOAD_EMPTY, 'the request body is empty');
    if (declaredBytes !== undefined) await this.space.ensure(declaredBytes);
    return this.replaceContent(imageId, format, async (staging, progress) => {
      const file = path.join(staging, `upload-${randomBytes(4).toString('hex')}.${format}`);
      const received = await this.receive(body, file, declaredBytes, (n) => progress(Math.min(50, (n / declaredBytes!) * 50)));
      if (received === 0) throw new ValidationError(ImageContentErrorCode.UPLOAD_EMPTY, 'the request body is empty');
      if (declaredBytes !== undefined && received !== declaredBytes) {
        throw new ValidationError(ImageContentErrorCode.UPLOAD_ABORTED, `received ${received} of ${declaredBytes} bytes`);
      }
      return this.toRaw(file, format, staging, (pct) => progress(50 + pct / 2));
    });
  }

  /**
   * Imports a file from DLS_IMPORT_DIR (admin; see `openImportSource` for what is allowed). The source is opened
   * once, copied (reflinked where possible) into the image's staging area through that descriptor, and only the
   * copy is inspected and converted — so the file that was checked is the file that is used. The source is never
   * modified or moved.
   */
  async importFromPath(imageId: string, sourcePath: string, format: ImageFormat): Promise<Image> {
    const source = await openImportSource(sourcePath, { importDir: this.config.storage.importDir, dataDir: this.config.dataDir });
    try {
      await this.space.ensure(source.size);
      return await this.replaceContent(imageId, format, async (staging, progress) => {
        const copy = path.join(staging, `import-${randomBytes(4).toString('hex')}.${format}`);
        await storageCall(() => cloneOrCopyFile(source.readPath, copy, true));
        return this.toRaw(copy, format, staging, progress);
      });
    } finally {
      await source.handle.close().catch(() => undefined);
    }
  }

  /** Validates `source` (a file in staging) as `format` and converts it to raw in staging; the source is removed. */
  private async toRaw(
    source: string,
    format: ImageFormat,
    staging: string,
    progress: (pct: number) => Promise<void>,
  ): Promise<{ rawPath: string; sourceFormat: ImageFormat }> {
    try {
      // Not a regular file, wrong format, backing or data file, truncation → 400 before qemu-img reads any data.
      await storageCall(() => this.qemuImg.info(source, format));
    } catch (e) {
      await fs.rm(source, { force: true });
      throw e;
    }
    if (format === 'raw') return { rawPath: source, sourceFormat: format };
    const out = path.join(staging, `converted-${randomBytes(4).toString('hex')}.raw`);
    try {
      await storageCall(() => this.qemuImg.convertToRaw(source, format, out, (pct) => void progress(pct)));
    } catch (e) {
      await fs.rm(out, { force: true });
      throw e;
    } finally {
      await fs.rm(source, { force: true });
    }
    return { rawPath: out, sourceFormat: format };
  }

  /**
   * Writes `body` to `file`, counting bytes against the free-space budget. Over budget: the file is removed, the
   * 507 is thrown, and the body is drained (not destroyed: destroying the request would close the socket before
   * the answer is written). A client that goes away gives UPLOAD_ABORTED.
   */
  private async receive(
    body: Readable,
    file: string,
    declaredBytes: number | undefined,
    progress: (received: number) => Promise<void>,
  ): Promise<number> {
    let budget = await this.space.budget();
    const out = createWriteStream(file, { flags: 'wx' });
    let received = 0;
    let nextCheck = RECHECK_EVERY_BYTES;
    let lastLog = Date.now();
    try {
      await new Promise<void>((resolve, reject) => {
        let settled = false;
        const fail = (e: Error) => {
          if (settled) return;
          settled = true;
          body.off('data', onData).off('end', onEnd).off('error', onError).off('aborted', onAborted).off('close', onClose);
          body.unpipe();
          body.resume(); // discard the rest so the error answer can be read
          out.destroy();
          reject(e);
        };
        const onData = (chunk: Buffer) => {
          received += chunk.length;
          if (received > budget) return fail(this.space.exceeded(received, budget));
          if (received >= nextCheck) {
            nextCheck += RECHECK_EVERY_BYTES;
            body.pause();
            // Someone else may be filling the disk too: ask again (our own bytes already count against the budget).
            void this.space.budget().then(
              (fresh) => {
                budget = Math.min(budget, received + fresh);
                if (!settled && !out.writableNeedDrain) body.resume();
              },
              (e: Error) => fail(e),
            );
          }
          if (declaredBytes && Date.now() - lastLog > 2000) {
            lastLog = Date.now();
            void progress(received);
          }
          if (!out.write(chunk)) body.pause();
        };
        const onEnd = () => out.end();
        const onError = (e: Error) =>
          fail(new ValidationError(ImageContentErrorCode.UPLOAD_ABORTED, `upload interrupted after ${received} bytes: ${e.message}`));
        const onAborted = () =>
          fail(new ValidationError(ImageContentErrorCode.UPLOAD_ABORTED, `upload interrupted after ${received} bytes: the client went away`));
        const onClose = () => {
          if (!body.readableEnded) onAborted();
        };
        out.on('drain', () => {
          if (!settled) body.resume();
        });
        out.on('error', (e: NodeJS.ErrnoException) =>
          fail(
            e.code === 'ENOSPC' || e.code === 'EDQUOT'
              ? this.space.exceeded(received, received)
              : new ValidationError(ImageContentErrorCode.UPLOAD_ABORTED, `upload interrupted after ${received} bytes: ${e.message}`),
          ),
        );
        out.on('finish', () => {
          if (settled) return;
          settled = true;
          resolve();
        });
        body.on('data', onData).on('end', onEnd).on('error', onError).on('aborted', onAborted).on('close', onClose);
        if (body.readableEnded) out.end();
      });
    } catch (e) {
      await fs.rm(file, { force: true });
      throw e;
    }
    return received;
  }

  /**
   * The shared skeleton: take the image's content lock (or 409), mark it importing, let `produce` write a raw file
   * into staging, then hash it and move it over disk.raw. On failure: staging cleaned, status restored, storage
   * removed if we made it.
   */
  private async replaceContent(imageId: string, format: ImageFormat, produce: Producer): Promise<Image> {
    return this.exclusive(imageId, 'import', async () => {
      const image = await this.images.findOne({ where: { id: imageId } });
      if (!image) throw new NotFoundError('image', imageId);
      // Restored as it was on a failure, updated_at included: a refused upload leaves the row unchanged.
      const before = {
        contentStatus: image.contentStatus,
        contentError: image.contentError,
        contentProgress: image.contentProgress,
        updatedAt: image.updatedAt,
      };
      const hadStorage = (await storageCall(() => this.driver.imageSizeBytes(imageId)).catch(() => 0)) > 0 || image.contentStatus === 'ready';
      const diskPath = await storageCall(() => this.driver.ensureImage(imageId));
      const staging = await storageCall(() => this.driver.stagingDir(imageId));
      await this.setContent(imageId, { contentStatus: 'importing', contentProgress: 0, contentError: null, contentNodeId: this.cluster?.id ?? null });
      const report = (phase: ImageImportEventBody['phase'], more: Partial<ImageImportEventBody> = {}) =>
        this.events?.emit('image.import', { imageId, name: image.name, phase, percent: null, sizeBytes: null, error: null, ...more });
      report('started', { percent: 0 });
      const progress = async (pct: number) => {
        const p = Math.max(0, Math.min(100, Math.round(pct * 10) / 10));
        this.logger.log(`image ${image.name}: import ${p}%`);
        report('progress', { percent: p });
        await this.setContent(imageId, { contentProgress: p }).catch(() => undefined);
      };
      let produced: string | undefined;
      try {
        const { rawPath, allZeros } = await produce(staging, progress);
        produced = rawPath;
        const [{ size }, sha256] = await Promise.all([fs.stat(rawPath), allZeros ? null : sha256File(rawPath)]);
        if (size === 0) throw new ValidationError('IMAGE_EMPTY', 'the image has no content (0 bytes)');
        await fs.rename(rawPath, diskPath);
        produced = undefined;
        await this.setContent(imageId, {
          contentStatus: 'ready',
          contentProgress: 100,
          contentError: null,
          contentSha256: sha256,
          sizeBytes: size,
          format,
          path: diskPath,
          zfsDataset: this.driver.kind === 'zfs' ? path.dirname(diskPath) : null,
        });
        this.logger.log(`image ${image.name}: content ready (${size} bytes, ${sha256 ? `sha256 ${sha256.slice(0, 12)}…` : 'blank'})`);
        report('done', { percent: 100, sizeBytes: size });
        return (await this.images.findOne({ where: { id: imageId } }))!;
      } catch (e) {
        report('failed', { error: e instanceof Error ? e.message.slice(0, 500) : String(e) });
        if (produced) await fs.rm(produced, { force: true });
        await cleanStaging(staging);
        if (!hadStorage) await this.driver.destroyImage(imageId).catch(() => undefined);
        await this.setContent(imageId, before).catch((err: Error) =>
          this.logger.error(`image ${image.name}: could not restore its content status: ${err.message}`),
        );
        throw e;
      } finally {
        await cleanStaging(staging);
      }
    });
  }

  /** One UPDATE of the image's content columns that waits at most IMAGE_ROW_LOCK_TIMEOUT for the row (409 LOCK_TIMEOUT after). */
  private async setContent(imageId: string, patch: Partial<Image>): Promise<void> {
    await this.ds.transaction(async (m) => {
      await m.query(`SET LOCAL lock_timeout = '${IMAGE_ROW_LOCK_TIMEOUT}'`);
      await m.update(Image, { id: imageId }, patch);
    });
  }
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), h);
  return h.digest('hex');
}

async function cleanStaging(dir: string): Promise<void> {
  const entries = await fs.readdir(dir).catch(() => [] as string[]);
  await Promise.all(entries.map((e) => fs.rm(path.join(dir, e), { force: true, recursive: true })));
}
