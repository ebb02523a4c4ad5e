import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Repository } from 'typeorm';
import { AppConfig } from '@config/config.loader';
import { KeyedLock } from '@common/concurrency/keyed-lock';
import { checkVersion, VersionPrecondition } from '@common/etag/etag';
import { NotFoundError, ValidationError } from '@common/errors/domain-error';
import { PeImageError, readPeImage, subsystemName } from '@protocols/pe/pe-image';
import { SIGNED_LOADER_PLATFORMS, SignedLoaderFile, SignedLoaderPlatform } from './signed-loader.entity';
import { SignedLoaderErrorCode as Code } from './signed-loaders.errors';

/** Directory of the boot files root (the TFTP root) that holds the operator's signed loaders, one folder per CPU. */
export const SIGNED_LOADERS_DIR = 'signed';
/** Largest file accepted: shims and iPXE are 1–2 MB, GRUB ~2 MB; a signed EFI program beyond this is not a loader. */
export const SIGNED_LOADER_MAX_BYTES = 32 * 1024 * 1024;
/** A plain file name ending in `.efi`: no directory, no leading dot, nothing a shell, TFTP or URL treats specially. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,59}\.efi$/i;

/** A signed loader as listed: the row and whether the boot files root still holds exactly those bytes. */
export interface SignedLoaderView extends SignedLoaderFile {
  /** `ok`; `missing` (the file is gone from the boot files root); `changed` (its bytes differ from the upload). */
  state: 'ok' | 'missing' | 'changed';
  /** Its path in the boot files root (`signed/<platform>/<name>`): what DHCP names, what TFTP and HTTP serve. */
  path: string;
}

export function signedLoaderPath(platform: SignedLoaderPlatform, name: string): string {
  return `${SIGNED_LOADERS_DIR}/${platform}/${name}`;
}

function checkPlatform(platform: string): SignedLoaderPlatform {
  if (!(SIGNED_LOADER_PLATFORMS as readonly string[]).includes(platform)) {
    throw new ValidationError('VALIDATION_FAILED', `platform must be one of ${SIGNED_LOADER_PLATFORMS.join(', ')}`, { field: 'platform' });
  }
  return platform as SignedLoaderPlatform;
}

function checkName(name: string): string {
  if (!NAME.test(name)) {
    throw new ValidationError(
      'VALIDATION_FAILED',
      'name must be a file name ending in .efi (letters, digits, ".", "_" or "-"; at most 64 characters; no directory)',
      { field: 'name' },
    );
  }
  return name;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * The operator's signed loaders for Secure Boot clients (`/api/v1/signed-loaders`). An upload is checked before it is
 * kept: a PE image, an EFI application, built for the CPU it is filed under, with an Authenticode signature (the
 * firmware verifies the signature itself; DLS refuses what no Secure Boot firmware would start). The bytes go to the
 * boot files root atomically (`signed/<platform>/<name>`), served by TFTP and `/boot/files` like the other loaders.
 *
 * DHCP asks {@link entryFor} on its hot path: the entry of each CPU is kept in memory, set at start from the rows
 * whose files still hold the uploaded bytes, and changed by this service's own writes (one lock per CPU).
 */
@Injectable()
export class SignedLoadersService implements OnApplicationBootstrap {
  private readonly logger = new Logger('SignedLoaders');
  private readonly lock = new KeyedLock();
  private readonly entries = new Map<SignedLoaderPlatform, string>();

  constructor(
    @InjectRepository(SignedLoaderFile) private readonly files: Repository<SignedLoaderFile>,
    private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const row of await this.files.find({ where: { entry: true } })) {
      const state = await this.stateOf(row);
      if (state === 'ok') this.entries.set(row.platform, signedLoaderPath(row.platform, row.name));
      else {
        this.logger.warn(
          `the signed loader ${signedLoaderPath(row.platform, row.name)} is ${state} in ${this.config.tftp.root}: ` +
            `Secure Boot ${row.platform} clients get ${row.platform === 'x64' ? "Debian's shim" : 'no loader'} until it is uploaded again`,
        );
      }
    }
  }

  /** The boot-files path DHCP hands a Secure Boot client of `platform`, or null (then Debian's chain, on x64). */
  entryFor(platform: SignedLoaderPlatform | null): string | null {
    return platform ? (this.entries.get(platform) ?? null) : null;
  }

  async list(): Promise<SignedLoaderView[]> {
    const rows = await this.files.find({ order: { platform: 'ASC', name: 'ASC' } });
    return Promise.all(rows.map(async (r) => this.view(r, await this.stateOf(r))));
  }

  async get(platform: string, name: string): Promise<SignedLoaderView> {
    const row = await this.find(checkPlatform(platform), checkName(name));
    return this.view(row, await this.stateOf(row));
  }

  /**
   * Keeps an uploaded signed loader (replacing one of the same name), after the checks above; `entry` makes it the
   * file DHCP hands the CPU's Secure Boot clients (a replaced entry stays the entry).
   */
  async upload(
    platformParam: string,
    nameParam: string,
    body: Readable,
    declaredBytes: number | undefined,
    entry?: boolean,
  ): Promise<SignedLoaderView> {
    const platform = checkPlatform(platformParam);
    const name = checkName(nameParam);
    const data = await this.readBody(body, declaredBytes);
    this.check(data, platform);
    return this.lock.run(platform, async () => {
      const dir = join(this.config.tftp.root, SIGNED_LOADERS_DIR, platform);
      await mkdir(dir, { recursive: true });
      const dst = join(dir, name);
      const tmp = join(dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
      await writeFile(tmp, data, { mode: 0o644, flush: true });
      try {
        const saved = await this.files.manager.transaction(async (m) => {
          const repo = m.getRepository(SignedLoaderFile);
          const existing = await repo.findOne({ where: { platform, name }, lock: { mode: 'pessimistic_write' } });
          const makeEntry = entry ?? existing?.entry ?? false;
          if (makeEntry) await repo.update({ platform, entry: true }, { entry: false });
          const row = await repo.save(
            repo.merge(existing ?? repo.create({ platform, name }), { sha256: sha256(data), sizeBytes: data.length, entry: makeEntry }),
          );
          await rename(tmp, dst); // inside the transaction: a failed rename leaves the row as it was
          return row;
        });
        this.setEntry(saved);
        this.logger.log(
          `signed loader ${signedLoaderPath(platform, name)} kept (${data.length} bytes, sha256 ${saved.sha256})${saved.entry ? ', the entry' : ''}`,
        );
        return this.view(saved, 'ok');
      } finally {
        await rm(tmp, { force: true });
      }
    });
  }

  /**
   * Makes a kept loader its CPU's entry (the one before stops being it), or stops it being the entry; with `expected`
   * (If-Match) only while the row is at that version (412 otherwise).
   */
  async update(platformParam: string, nameParam: string, entry: boolean, expected?: VersionPrecondition): Promise<SignedLoaderView> {
    const platform = checkPlatform(platformParam);
    const name = checkName(nameParam);
    return this.lock.run(platform, async () => {
      const saved = await this.files.manager.transaction(async (m) => {
        const repo = m.getRepository(SignedLoaderFile);
        const row = await repo.findOne({ where: { platform, name }, lock: { mode: 'pessimistic_write' } });
        if (!row) throw this.notFound(platform, name);
        checkVersion(expected, row.version, `signed loader ${signedLoaderPath(platform, name)}`);
        if (entry) await repo.update({ platform, entry: true }, { entry: false });
        row.entry = entry;
        return repo.save(row);
      });
      const state = await this.stateOf(saved);
      this.setEntry(saved, state);
      return this.view(saved, state);
    });
  }

  /** Removes a signed loader, its file and (when it was the entry) the CPU's entry. */
  async remove(platformParam: string, nameParam: string): Promise<void> {
    const platform = checkPlatform(platformParam);
    const name = checkName(nameParam);
    await this.lock.run(platform, async () => {
      const row = await this.find(platform, name);
      await this.files.delete({ id: row.id });
      if (row.entry) this.entries.delete(platform);
      await rm(join(this.config.tftp.root, SIGNED_LOADERS_DIR, platform, name), { force: true });
    });
  }

  private setEntry(row: SignedLoaderFile, state: SignedLoaderView['state'] = 'ok'): void {
    const path = signedLoaderPath(row.platform, row.name);
    if (row.entry && state === 'ok') this.entries.set(row.platform, path);
    else if (this.entries.get(row.platform) === path) this.entries.delete(row.platform);
  }

  private check(data: Buffer, platform: SignedLoaderPlatform): void {
    let info;
    try {
      info = readPeImage(data);
    } catch (err) {
      if (err instanceof PeImageError) throw new ValidationError(Code.SIGNED_LOADER_NOT_EFI, err.message, { field: 'body', reason: err.reason });
      throw err;
    }
    if (!info.efiApplication) {
      throw new ValidationError(Code.SIGNED_LOADER_NOT_EFI, `not an EFI application: it is an ${subsystemName(info.subsystem)}`, { field: 'body' });
    }
    if (info.platform !== platform) {
      throw new ValidationError(
        Code.SIGNED_LOADER_WRONG_PLATFORM,
        `the file is built for ${info.platform ?? `machine type 0x${info.machine.toString(16)}`}, not ${platform}`,
        { field: 'platform', platform: info.platform },
      );
    }
    if (!info.signed) {
      throw new ValidationError(
        Code.SIGNED_LOADER_UNSIGNED,
        'the file has no Authenticode signature: a Secure Boot firmware would refuse to start it (sign it, or use a signed build)',
        { field: 'body' },
      );
    }
  }

  private async readBody(body: Readable, declared: number | undefined): Promise<Buffer> {
    if (declared !== undefined && Number.isFinite(declared) && declared > SIGNED_LOADER_MAX_BYTES) {
      throw new ValidationError(Code.SIGNED_LOADER_TOO_LARGE, `the file is larger than ${SIGNED_LOADER_MAX_BYTES} bytes`, { field: 'body' });
    }
    if (declared === 0) throw new ValidationError(Code.UPLOAD_EMPTY, 'the request body is empty', { field: 'body' });
    const chunks: Buffer[] = [];
    let received = 0;
    try {
      for await (const chunk of body) {
        const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
        received += b.length;
        if (received > SIGNED_LOADER_MAX_BYTES) {
          throw new ValidationError(Code.SIGNED_LOADER_TOO_LARGE, `the file is larger than ${SIGNED_LOADER_MAX_BYTES} bytes`, { field: 'body' });
        }
        chunks.push(b);
      }
    } catch (err) {
      if (err instanceof ValidationError) throw err;
      throw new ValidationError(Code.UPLOAD_ABORTED, `the upload broke off after ${received} bytes`, { field: 'body' });
    }
    if (received === 0) throw new ValidationError(Code.UPLOAD_EMPTY, 'the request body is empty', { field: 'body' });
    if (declared !== undefined && Number.isFinite(declared) && received !== declared) {
      throw new ValidationError(Code.UPLOAD_ABORTED, `received ${received} of ${declared} bytes`, { field: 'body' });
    }
    return Buffer.concat(chunks, received);
  }

  private async find(platform: SignedLoaderPlatform, name: string): Promise<SignedLoaderFile> {
    const row = await this.files.findOne({ where: { platform, name } });
    if (!row) throw this.notFound(platform, name);
    return row;
  }

  private notFound(platform: string, name: string): NotFoundError {
    return new NotFoundError('signed loader', signedLoaderPath(platform as SignedLoaderPlatform, name), Code.SIGNED_LOADER_NOT_FOUND);
  }

  private async stateOf(row: SignedLoaderFile): Promise<SignedLoaderView['state']> {
    const data = await readFile(join(this.config.tftp.root, SIGNED_LOADERS_DIR, row.platform, row.name)).catch(() => null);
    if (!data) return 'missing';
    return sha256(data) === row.sha256.trim() ? 'ok' : 'changed';
  }

  private view(row: SignedLoaderFile, state: SignedLoaderView['state']): SignedLoaderView {
    return Object.assign(row, { state, path: signedLoaderPath(row.platform, row.name) });
  }
}
