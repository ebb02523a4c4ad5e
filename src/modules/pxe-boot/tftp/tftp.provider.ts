import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { EVENT_PUBLISHER, EventPublisher } from '../../events';
import { ReadinessRegistry } from '../../health';
import { NetworkRangesService } from '../../network';
import { InterfaceState, InterfaceWatch, probeInterface } from '../net/interface-watch';
import { copyFile, mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { AppConfig } from '@config/config.loader';
import { DlsMetrics } from '../../metrics';
import { BOOT_LOADERS } from '../../catalog';
import { BootSessionTracker } from '../boot-session-tracker';
import { TftpPeer, TftpServer, TftpTransferEndEvent } from './tftp.server';
import { TftpFileError } from './tftp-file-store';
import { TftpErrorCode } from '@protocols/tftp/tftp.constants';
import { BootScriptService } from '../boot-script.service';

/** Debian's `ipxe` package puts its loaders here (undionly.kpxe, ipxe.pxe, ipxe.efi, snponly.efi). */
export const DEBIAN_IPXE_DIR = '/usr/lib/ipxe';

/**
 * Debian's signed Secure Boot chain, as a UEFI PXE client fetches it: shim (signed by Microsoft, package
 * `shim-signed`) loads `grubx64.efi` from its own directory, which is Debian's signed netboot GRUB
 * (`grub-efi-amd64-signed`); that GRUB reads `grub/grub.cfg` (DLS renders it per client, see BootScriptService).
 */
export const SECURE_BOOT_FILES = [
  { source: '/usr/lib/shim/shimx64.efi.signed', name: 'shimx64.efi' },
  { source: '/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed', name: 'grubx64.efi' },
] as const;

/** Copies `source` to `<root>/<name>` when missing or different, atomically; false when `source` is absent. */
async function syncFile(source: string, root: string, name: string, log: Pick<Logger, 'log'>): Promise<boolean> {
  const want = await readFile(source).catch(() => null);
  if (!want) return false;
  const dst = join(root, name);
  const have = await readFile(dst).catch(() => null);
  if (!have || !have.equals(want)) {
    const tmp = `${dst}.tmp-${process.pid}`;
    await copyFile(source, tmp);
    await rename(tmp, dst);
    log.log(`${have ? 'updated' : 'installed'} ${name} in ${root}`);
  }
  return true;
}

/** Copies Debian's signed shim and GRUB into the TFTP root; says once what is missing. Returns the names present. */
export async function syncSecureBootFiles(root: string, log: Pick<Logger, 'log'>): Promise<string[]> {
  await mkdir(root, { recursive: true });
  const present: string[] = [];
  for (const f of SECURE_BOOT_FILES) if (await syncFile(f.source, root, f.name, log)) present.push(f.name);
  if (present.length < SECURE_BOOT_FILES.length) {
    log.log("Secure Boot clients cannot be served: install Debian's shim-signed and grub-efi-amd64-signed packages");
  }
  return present;
}

/**
 * Copies the iPXE loaders from `sourceDir` into the TFTP root when they are missing or differ (a package upgrade),
 * atomically (copy to a temp name, then rename). A loader missing from `sourceDir` is skipped with a warning, since
 * a site may serve only BIOS or only UEFI clients. Returns the loaders now present.
 */
export async function syncLoaders(root: string, sourceDir: string, log: Pick<Logger, 'warn' | 'log'>): Promise<string[]> {
  await mkdir(root, { recursive: true });
  const present: string[] = [];
  for (const name of BOOT_LOADERS) {
    if (await syncFile(join(sourceDir, name), root, name, log)) present.push(name);
    else log.warn(`${join(sourceDir, name)} not found: plain PXE clients cannot be given ${name} (install Debian's ipxe package)`);
  }
  return present;
}

/**
 * Lifecycle of the TFTP servers (when `DLS_TFTP_ENABLED`): fills the root with Debian's iPXE loaders and serves it
 * on `DLS_TFTP_ADDRESS`, or — by default — on the IPv4 address of each enabled network range's interface, so nothing
 * listens on a network DLS was not told to boot. `reload()` (called when ranges change, and when one of those interfaces
 * appears, goes away or changes its address: {@link InterfaceWatch}, every 2 s) converges the bound set.
 * A failed bind is logged and leaves the rest of DLS running. Completed transfers are reported to the boot-session
 * tracker, which maps the client's address to the client (recent DHCP, else the lease table).
 */
@Injectable()
export class TftpProvider implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Tftp');
  private readonly servers = new Map<string, TftpServer>();
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly watch = new InterfaceWatch({
    probe: (name) => probeInterface(name),
    onChange: () => this.reload(),
  });
  /** Addresses that should serve TFTP but could not be bound at the last reload (readiness reports them). */
  private unbound: string[] = [];
  /** The first bound address, once started (tests use port 0). */
  bound?: TftpPeer;

  constructor(
    private readonly config: AppConfig,
    private readonly tracker: BootSessionTracker,
    private readonly ranges: NetworkRangesService,
    @Optional() private readonly readiness?: ReadinessRegistry,
    @Optional() private readonly metrics?: DlsMetrics,
    @Optional() @Inject(EVENT_PUBLISHER) private readonly events?: EventPublisher,
    @Optional() private readonly scripts?: BootScriptService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.tftp.enabled) return;
    this.readiness?.register('tftp', () =>
      Promise.resolve({ up: this.unbound.length === 0, detail: { serving: [...this.servers.keys()], cannotBind: this.unbound } }),
    );
    await syncLoaders(this.config.tftp.root, DEBIAN_IPXE_DIR, this.logger);
    await syncSecureBootFiles(this.config.tftp.root, this.logger);
    await this.reload();
    if (!this.config.tftp.address) this.watch.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.watch.stop();
    await this.chain;
    await Promise.all([...this.servers.values()].map((s) => s.stop()));
    this.servers.clear();
  }

  /** Binds the addresses that should serve TFTP now and closes the others. Never throws. */
  reload(): Promise<void> {
    if (!this.config.tftp.enabled) return Promise.resolve();
    this.chain = this.chain
      .then(() => this.converge())
      .catch((err: unknown) => {
        this.logger.error(`TFTP reload failed: ${(err as Error).message}`);
      });
    return this.chain;
  }

  private async wantedAddresses(): Promise<string[]> {
    if (this.config.tftp.address) return [this.config.tftp.address];
    const ranges = await this.ranges.listEnabled(); // enabled, dhcp_mode full or proxy
    const out = new Set<string>();
    const states = new Map<string, InterfaceState>();
    for (const r of ranges) {
      if (!r.interface || states.has(r.interface)) continue;
      const state = probeInterface(r.interface);
      states.set(r.interface, state);
      if (state.usable) out.add(state.address);
    }
    this.watch.expect(states);
    return [...out];
  }

  private async converge(): Promise<void> {
    if (this.stopped) return;
    const wanted = new Set(await this.wantedAddresses());
    for (const [address, server] of this.servers) {
      if (wanted.has(address)) continue;
      await server.stop();
      this.servers.delete(address);
      this.logger.log(`TFTP stopped on ${address}`);
    }
    for (const address of wanted) {
      if (this.servers.has(address)) continue;
      const server = new TftpServer({
        root: this.config.tftp.root,
        bindAddress: address,
        port: this.config.tftp.port,
        spinMicros: this.config.tftp.spinMicros,
        logger: this.logger,
        onTransferEnd: (e) => this.reportTransfer(e),
        generated: (filename, client) => this.generated(filename, client, address),
      });
      try {
        const bound = await server.start();
        this.bound ??= bound;
        this.servers.set(address, server);
        this.logger.log(`TFTP serving ${this.config.tftp.root} on ${bound.address}:${bound.port}`);
      } catch (err) {
        this.logger.error(`TFTP cannot bind ${address}:${this.config.tftp.port}: ${(err as Error).message}`);
      }
    }
    this.unbound = [...wanted].filter((a) => !this.servers.has(a));
    if (wanted.size === 0) this.logger.log('TFTP idle: no enabled network range with an interface (or set DLS_TFTP_ADDRESS)');
  }

  /**
   * The files made per request: a Secure Boot client's `grub/grub.cfg` and its per-boot initrd fragment
   * (`dls/<mac>/<token>/iscsi.cpio`, the token from that config), with the boot routes' rules. Anything else: null.
   */
  private async generated(filename: string, client: TftpPeer, serverIp: string): Promise<Buffer | null> {
    if (!this.scripts) return null;
    const name = filename.replace(/\\/g, '/').replace(/^\/+/, '');
    const who = { sourceIp: client.address.replace(/^::ffff:/, ''), serverIp };
    if (name === 'grub/grub.cfg') return Buffer.from(await this.scripts.grubConfigFor(who));
    const m = /^dls\/([0-9a-f:]{17})\/([^/]{1,200})\/iscsi\.cpio$/.exec(name);
    if (!m) return null;
    const r = await this.scripts.iscsiInitrdFor(m[1], who, m[2]);
    if (r.status === 200 && typeof r.body !== 'string') return r.body;
    throw new TftpFileError(TftpErrorCode.ACCESS_VIOLATION, `no initrd fragment (${r.status})`);
  }

  private reportTransfer(e: TftpTransferEndEvent): void {
    if (this.metrics) {
      const file = DlsMetrics.tftpFile(e.file);
      this.metrics.tftpTransfers.inc({ file, result: e.ok ? 'ok' : e.abortedByClient ? 'aborted' : 'error' });
      if (e.bytes > 0) this.metrics.tftpBytes.inc({ file }, e.bytes);
    }
    // A client that aborts after learning the size (tsize probe, ERROR 8) is normal; only complete transfers count.
    if (e.abortedByClient) return;
    const clientIp = e.client.address.replace(/^::ffff:/, '');
    // The event names the client once the tracker has resolved the address (from memory, or one lease lookup).
    void this.tracker.onLoaderServed({ clientIp, file: e.file, ok: e.ok }).then((owner) =>
      this.events?.emit('tftp', {
        file: e.file,
        clientIp,
        clientId: owner?.clientId ?? null,
        mac: owner?.mac ?? null,
        bytes: e.bytes,
        durationMs: Math.round(e.durationMs),
        ok: e.ok,
        error: e.error ?? null,
      }),
    );
  }
}
