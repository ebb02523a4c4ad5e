import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Repository } from 'typeorm';
import { ConflictError, NotFoundError, ValidationError } from '@common/errors/domain-error';
import { Image, ImageFormat } from './image.entity';
import { KeyedLock } from '@common/concurrency/keyed-lock';
import { QemuImgAdapter, SpaceGuard, STORAGE_DRIVER, storageCall } from '../../storage';
import type { StorageDriver } from '../../storage';
import { ImageContentErrorCode } from './images.errors';

/** Largest blank disk DLS creates (sparse, so this is a sanity bound, not space). */
const MAX_BLANK_BYTES = 16 * 1024 ** 4;

/**
 * Puts content into an image's `disk.raw`: a blank sparse disk, a streamed upload, or a file on the server, in raw,
 * qcow2 or vhdx (converted to raw with qemu-img). The upload streams to a staging file on the image's own
 * filesystem — never buffered whole in memory — and only a validated, converted result replaces `disk.raw`.
 * Progress goes to the log and to `images.content_progress`; a failure leaves no files and, if this call created
 * the image's storage, no storage either.
 */
@Injectable()
export class ImageContentService {
  private readonly logger = new Logger(ImageContentService.name);
  private readonly locks = new KeyedLock();

  constructor(
    @Inject(STORAGE_DRIVER) private readonly driver: StorageDriver,
    @InjectRepository(Image) private readonly images: Repository<Image>,
    private readonly qemuImg: QemuImgAdapter,
    private readonly space: SpaceGuard,
  ) {}

  /** Where the image's raw disk lives (no I/O). */
  diskPathFor(imageId: string): string {
    return this.driver.imageDiskPath(imageId);
  }

  /** Removes the image's storage (its container and disk.raw); the caller has checked it has no versions. */
  async removeStorage(imageId: string): Promise<void> {
    await this.locks.run(imageId, () => storageCall(() => this.driver.destroyImage(imageId)));
  }

  async createBlank(imageId: string, sizeBytes: number): Promise<Image> {
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 512 * 1024 || sizeBytes > MAX_BLANK_BYTES || sizeBytes % 512 !== 0) {
      throw new ValidationError('INVALID_SIZE', `sizeBytes must be a multiple of 512 between 512 KiB and 16 TiB`);
    }
    return this.replaceContent(imageId, 'raw', async (staging) => {
      const out = path.join(staging, `blank-${randomBytes(4).toString('hex')}.raw`);
      await storageCall(() => this.qemuImg.createBlank(out, sizeBytes));
      return { rawPath: out, sourceFormat: 'raw' as ImageFormat };
    });
  }

  /** Streams an upload (the HTTP request body) into the image. `declaredBytes` (Content-Length) is checked against free space. */
  async upload(imageId: string, format: ImageFormat, body: Readable, declaredBytes?: number): Promise<Image> {
    if (declaredBytes !== undefined) await this.space.ensure(declaredBytes);
    return this.replaceContent(imageId, format, async (staging, progress) => {
      const file = path.join(staging, `upload-${randomBytes(4).toString('hex')}.${format}`);
      let received = 0;
      let lastLog = Date.now();
      const counter = new Transform({
        transform: (chunk: Buffer, _enc, cb) => {
          received += chunk.length;
          if (declaredBytes && Date.now() - lastLog > 2000) {
            lastLog = Date.now();
            void progress(Math.min(50, (received / declaredBytes) * 50));
          }
          cb(null, chunk);
        },
      });
      try {
        await pipeline(body, counter, createWriteStream(file, { flags: 'wx' }));
      } catch (e) {
        await fs.rm(file, { force: true });
        throw new ValidationError(ImageContentErrorCode.UPLOAD_ABORTED, `upload interrupted after ${received} bytes: ${(e as Error).message}`);
      }
      if (received === 0) throw new ValidationError(ImageContentErrorCode.UPLOAD_EMPTY, 'the request body is empty');
      if (declaredBytes !== undefined && received !== declaredBytes) {
        throw new ValidationError(ImageContentErrorCode.UPLOAD_ABORTED, `received ${received} of ${declaredBytes} bytes`);
      }
      return this.toRaw(file, format, staging, (pct) => progress(50 + pct / 2));
    });
  }

  /** Imports a file that already is on the server (admin). The source is never modified or moved. */
  async importFromPath(imageId: string, sourcePath: string, format: ImageFormat): Promise<Image> {
    if (!path.isAbsolute(sourcePath) || /[\0\n\r]/.test(sourcePath)) {
      throw new ValidationError(ImageContentErrorCode.IMPORT_SOURCE_INVALID, 'path must be an absolute file path');
    }
    const st = await fs.stat(sourcePath).catch(() => null);
    if (!st || !st.isFile())
      throw new ValidationError(ImageContentErrorCode.IMPORT_SOURCE_INVALID, `path ${sourcePath} is not a readable regular file`);
    await this.space.ensure(st.size);
    return this.replaceContent(imageId, format, async (staging, progress) => {
      if (format === 'raw') {
        // Copy (reflink where possible) so the image owns its bytes; validate it as raw first.
        await storageCall(() => this.qemuImg.info(sourcePath, 'raw'));
        const out = path.join(staging, `import-${randomBytes(4).toString('hex')}.raw`);
        await fs.copyFile(sourcePath, out);
        return { rawPath: out, sourceFormat: format };
      }
      return this.toRaw(sourcePath, format, staging, progress);
    });
  }

  private async toRaw(
    source: string,
    format: ImageFormat,
    staging: string,
    progress: (pct: number) => Promise<void>,
  ): Promise<{ rawPath: string; sourceFormat: ImageFormat }> {
    await storageCall(() => this.qemuImg.info(source, format)); // wrong format, backing file, truncation → 400
    if (format === 'raw') return { rawPath: source, sourceFormat: format };
    const out = path.join(staging, `converted-${randomBytes(4).toString('hex')}.raw`);
    try {
      await storageCall(() => this.qemuImg.convertToRaw(source, format, out, (pct) => void progress(pct)));
    } catch (e) {
      await fs.rm(out, { force: true });
      throw e;
    } finally {
      if (path.dirname(source) === staging) await fs.rm(source, { force: true });
    }
    return { rawPath: out, sourceFormat: format };
  }

  /**
   * The shared skeleton: lock the image, mark it importing, let `produce` write a raw file into staging, then
   * hash it and move it over disk.raw. On failure: staging cleaned, status restored, storage removed if we made it.
   */
  private async replaceContent(
    imageId: string,
    format: ImageFormat,
    produce: (staging: string, progress: (pct: number) => Promise<void>) => Promise<{ rawPath: string; sourceFormat: ImageFormat }>,
  ): Promise<Image> {
    if (this.locks.isLocked(imageId)) {
      throw new ConflictError(ImageContentErrorCode.IMPORT_IN_PROGRESS, `image ${imageId} is already being imported`);
    }
    return this.locks.run(imageId, async () => {
      const image = await this.images.findOne({ where: { id: imageId } });
      if (!image) throw new NotFoundError('image', imageId);
      const before = { contentStatus: image.contentStatus, contentError: image.contentError };
      const hadStorage = (await storageCall(() => this.driver.imageSizeBytes(imageId)).catch(() => 0)) > 0 || image.contentStatus === 'ready';
      const diskPath = await storageCall(() => this.driver.ensureImage(imageId));
      const staging = await storageCall(() => this.driver.stagingDir(imageId));
      await this.images.update({ id: imageId }, { contentStatus: 'importing', contentProgress: 0, contentError: null });
      const progress = async (pct: number) => {
        const p = Math.max(0, Math.min(100, Math.round(pct * 10) / 10));
        this.logger.log(`image ${image.name}: import ${p}%`);
        await this.images.update({ id: imageId }, { contentProgress: p }).catch(() => undefined);
      };
      let produced: string | undefined;
      try {
        const { rawPath } = await produce(staging, progress);
        produced = rawPath;
        const [{ size }, sha256] = await Promise.all([fs.stat(rawPath), sha256File(rawPath)]);
        if (size === 0) throw new ValidationError('IMAGE_EMPTY', 'the image has no content (0 bytes)');
        await fs.rename(rawPath, diskPath);
        produced = undefined;
        await this.images.update(
          { id: imageId },
          {
            contentStatus: 'ready',
            contentProgress: 100,
            contentError: null,
            contentSha256: sha256,
            sizeBytes: size,
            format,
            path: diskPath,
            zfsDataset: this.driver.kind === 'zfs' ? path.dirname(diskPath) : null,
          },
        );
        this.logger.log(`image ${image.name}: content ready (${size} bytes, sha256 ${sha256.slice(0, 12)}…)`);
        return (await this.images.findOne({ where: { id: imageId } }))!;
      } catch (e) {
        if (produced) await fs.rm(produced, { force: true });
        await fs.rm(staging, { recursive: true, force: true }).catch(() => undefined);
        if (!hadStorage) await this.driver.destroyImage(imageId).catch(() => undefined);
        await this.images.update({ id: imageId }, { ...before, contentProgress: null }).catch(() => undefined);
        throw e;
      } finally {
        await cleanStaging(staging);
      }
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
