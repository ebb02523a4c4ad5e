import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { copyFile, mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { AppConfig } from '../../config/config.loader';
import { BOOT_LOADERS } from '../clients/client.entity';
import { BootSessionTracker } from './boot-session-tracker';
import { TftpPeer, TftpServer, TftpTransferEndEvent } from './tftp/tftp-server';

/** Debian's `ipxe` package puts its loaders here (undionly.kpxe, ipxe.pxe, ipxe.efi, snponly.efi). */
export const DEBIAN_IPXE_DIR = '/usr/lib/ipxe';

/**
 * Copies the iPXE loaders from `sourceDir` into the TFTP root when they are missing or differ (a package upgrade),
 * atomically (copy to a temp name, then rename). A loader missing from `sourceDir` is skipped with a warning, since
 * a site may serve only BIOS or only UEFI clients. Returns the loaders now present.
 */
export async function syncLoaders(root: string, sourceDir: string, log: Pick<Logger, 'warn' | 'log'>): Promise<string[]> {
  await mkdir(root, { recursive: true });
  const present: string[] = [];
  for (const name of BOOT_LOADERS) {
    const src = join(sourceDir, name);
    const dst = join(root, name);
    const want = await readFile(src).catch(() => null);
    if (!want) {
      log.warn(`${src} not found: plain PXE clients cannot be given ${name} (install Debian's ipxe package)`);
      continue;
    }
    const have = await readFile(dst).catch(() => null);
    if (!have || !have.equals(want)) {
      const tmp = `${dst}.tmp-${process.pid}`;
      await copyFile(src, tmp);
      await rename(tmp, dst);
      log.log(`${have ? 'updated' : 'installed'} ${name} in ${root}`);
    }
    present.push(name);
  }
  return present;
}

/**
 * Lifecycle of the TFTP server (when `DLS_TFTP_ENABLED`): fills the root with Debian's iPXE loaders, binds
 * `DLS_TFTP_ADDRESS:DLS_TFTP_PORT` at application bootstrap and stops at shutdown. Completed transfers are reported to
 * the boot-session tracker, which maps the client's address to the client (recent DHCP, else the lease table).
 */
@Injectable()
export class TftpProvider implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Tftp');
  private server?: TftpServer;
  /** The bound address, once started (tests use port 0). */
  bound?: TftpPeer;

  constructor(
    private readonly config: AppConfig,
    private readonly tracker: BootSessionTracker,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.tftp.enabled) return;
    const { root, address, port } = this.config.tftp;
    await syncLoaders(root, DEBIAN_IPXE_DIR, this.logger);
    const server = new TftpServer({
      root,
      bindAddress: address,
      port,
      logger: this.logger,
      onTransferEnd: (e) => this.reportTransfer(e),
    });
    this.bound = await server.start();
    this.server = server;
  }

  async onApplicationShutdown(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    await s?.stop();
  }

  private reportTransfer(e: TftpTransferEndEvent): void {
    // A client that aborts after learning the size (tsize probe, ERROR 8) is normal; only complete transfers count.
    if (e.abortedByClient) return;
    this.tracker.onLoaderServed({ clientIp: e.client.address.replace(/^::ffff:/, ''), file: e.file, ok: e.ok });
  }
}
