import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { AppConfig } from '@config/config.loader';
import { TftpErrorCode } from '@protocols/tftp/tftp.constants';
import { EVENT_PUBLISHER, EventPublisher } from '../../events';
import { DlsMetrics } from '../../metrics';
import { BootRateLimiter } from '../boot-rate-limit';
import type { ScriptRequester } from '../boot-script.service';
import { SCRIPT_RATE_LIMITER } from '../boot-script.service';
import { BootSessionTracker } from '../boot-session-tracker';
import { BootTrustService } from '../boot-trust/boot-trust.service';
import { TftpFileError, TftpFileSource, TftpFileStore } from '../tftp/tftp-file-store';

/** What `GET|HEAD /boot/files/<path>` answers: the file, or a one-line refusal. */
export type BootFileAnswer =
  | { status: 200; size: number; contentType: string; file: string; realPath: string; bytes?: Buffer }
  | { status: 400 | 403 | 404 | 429; message: string; retryAfter?: number };

/** UEFI HTTP boot reads the image type from Content-Type (UEFI 2.5+ §24.7.9): `application/efi` is an EFI program. */
export function contentTypeOf(file: string): string {
  return /\.efi(\.signed)?$/i.test(file) ? 'application/efi' : 'application/octet-stream';
}

/**
 * The boot files root (the TFTP root: Debian's iPXE loaders, and whatever an operator puts there) over HTTP, for
 * clients that fetch their loader by URL: UEFI HTTP boot firmware (DHCP hands it `http://<dls>/boot/files/ipxe.efi`).
 * The same jail as TFTP (no `..`, no absolute names, symlinks must stay inside the root, regular files only) and the
 * same in-memory cache; larger files are streamed from disk. Only requesters on a boot network DLS serves are
 * answered (as on every `/boot` route), under the same per-address rate limit. A finished GET is reported to the
 * boot-session tracker (the `loader` stage) and as a `boot-file` event. Never throws.
 */
@Injectable()
export class BootFilesService {
  private readonly logger = new Logger('BootFiles');
  private store: TftpFileStore | null = null;
  private storeReady: Promise<TftpFileStore> | null = null;

  constructor(
    private readonly config: AppConfig,
    private readonly trust: BootTrustService,
    private readonly tracker: BootSessionTracker,
    @Inject(SCRIPT_RATE_LIMITER) private readonly limiter: BootRateLimiter,
    @Optional() @Inject(EVENT_PUBLISHER) private readonly events?: EventPublisher,
    @Optional() private readonly metrics?: DlsMetrics,
  ) {}

  /** Looks `file` (the URL path after `/boot/files/`, decoded) up for `who`. */
  async open(file: string, who: ScriptRequester): Promise<BootFileAnswer> {
    const refusal = this.limiter.take(who.sourceIp);
    if (refusal) return { status: 429, message: 'too many requests, try again later', retryAfter: refusal.retryAfter };
    if (!this.trust.onBootNetwork(who.sourceIp)) return { status: 403, message: `${who.sourceIp} is on no boot network DLS serves` };
    let source: TftpFileSource;
    try {
      source = await (await this.files()).open(file, 'octet');
    } catch (err) {
      if (err instanceof TftpFileError) {
        const status = err.code === TftpErrorCode.ACCESS_VIOLATION ? 403 : err.code === TftpErrorCode.FILE_NOT_FOUND ? 404 : 400;
        return { status, message: `${file}: ${err.message}` };
      }
      this.logger.warn(`boot file ${JSON.stringify(file)} for ${who.sourceIp}: ${(err as Error).message}`);
      return { status: 404, message: `${file}: not available` };
    }
    await source.close();
    return { status: 200, size: source.size, contentType: contentTypeOf(file), file, realPath: source.realPath, bytes: source.bytes };
  }

  /** The bytes of a found file: the cached buffer, or a stream from disk for files too large to cache. */
  body(answer: Extract<BootFileAnswer, { status: 200 }>): Buffer | Readable {
    return answer.bytes ?? createReadStream(answer.realPath, { start: 0, end: Math.max(0, answer.size - 1) });
  }

  /** A GET's body went out whole (`ok`) or the connection ended first: counted, tracked, published. */
  served(answer: Extract<BootFileAnswer, { status: 200 }>, who: ScriptRequester, ok: boolean, durationMs: number): void {
    this.metrics?.bootFiles.inc({ file: DlsMetrics.tftpFile(answer.file), result: ok ? 'ok' : 'aborted' });
    if (!ok) return;
    void this.tracker.onLoaderServed({ clientIp: who.sourceIp, file: answer.file, ok }).then((owner) =>
      this.events?.emit('boot-file', {
        file: answer.file,
        clientIp: who.sourceIp,
        clientId: owner?.clientId ?? null,
        mac: owner?.mac ?? null,
        bytes: answer.size,
        durationMs: Math.round(durationMs),
      }),
    );
  }

  private files(): Promise<TftpFileStore> {
    if (this.store) return Promise.resolve(this.store);
    this.storeReady ??= (async () => {
      const store = new TftpFileStore({ root: this.config.tftp.root });
      await store.init();
      this.store = store;
      return store;
    })().finally(() => (this.storeReady = null));
    return this.storeReady;
  }
}
