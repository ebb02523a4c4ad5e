/**
 * Reference boot server for the lab, built from stock Debian tools and run INSIDE the lab namespace:
 * - dnsmasq (dnsmasq-base): DHCPv4 on the bridge, no DNS, no ping check, iPXE clients get
 *   `http://<serverIp>:<port>/boot.ipxe` plus 175.176=1 (no-pxedhcp), IPv6 router advertisements for the bridge
 *   prefix (iPXE 2019 otherwise waits ~16 s for SLAAC), TFTP of Debian's undionly.kpxe / ipxe.efi for non-iPXE PXE.
 * - a tiny Node HTTP server for the iPXE script (logs each request line + headers).
 * - tgtd with one target whose LUN 1 is the disk (tgt's LUN 0 is a controller pseudo-LUN).
 *
 * It is the yardstick DLS is compared against (bench/) and the proof that the lab harness works.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Lab, LabProcess, MAC_PATTERN } from './netns';

/** Default target name (RFC 3720 §3.2.6.3.1 iqn format). */
export const REFERENCE_IQN = 'iqn.2024-01.lab.dls:disk0';
/** Initiator IQN prefix the script sets per client (`<prefix>:<mac hexhyp>`). */
export const REFERENCE_INITIATOR_PREFIX = 'iqn.2024-01.lab.dls.initiator';
const IQN_PATTERN = /^iqn\.\d{4}-\d{2}\.[a-z0-9.-]+(:[a-z0-9.:-]+)?$/;
const IPXE_DIR = '/usr/lib/ipxe';
const READY_TIMEOUT_MS = 10_000;

export interface ReferenceStackOptions {
  /** Raw disk image exported as LUN 1 (absolute or relative to cwd). */
  diskPath: string;
  /** When given, only these MACs get leases, with fixed addresses `<subnet>.100+i` (dnsmasq dhcp-host). */
  macs?: string[];
  /** HTTP port for the iPXE script (default 8080). */
  httpPort?: number;
  /** Target IQN (default REFERENCE_IQN). */
  iqn?: string;
  /** Send IPv6 RAs (default: when the lab has an IPv6 prefix). */
  ipv6Ra?: boolean;
  /** Temp/work dir (default: a fresh mkdtemp, removed on stop()). */
  workDir?: string;
  /** Export the LUN read-only (payload then reports DLS-WRITE-ERR). */
  readOnly?: boolean;
  /**
   * Boot a Linux kernel instead of `sanboot`: the script loads this kernel and initrd from the HTTP server, plus a
   * static initrd fragment with the iSCSI login (no CHAP: the reference's ACL admits all), as DLS does per boot.
   */
  linux?: { kernel: string; initrd: string; cmdline: string; loginFragment: Buffer };
}

export interface ReferenceStack {
  /** `http://<serverIp>:<port>/boot.ipxe`. */
  scriptUrl: string;
  /** The exact iPXE script served. */
  script: string;
  iqn: string;
  /** tgtd control port (`tgtadm -C <n>`), unique per run. */
  tgtControlPort: number;
  workDir: string;
  /** dnsmasq / HTTP / tgtd logs. */
  logs: { dnsmasq: string; http: string; tgtd: string };
  /** Raw `tgtadm --op show --mode conn --tid 1` output (iSCSI sessions currently logged in). */
  showConnections(): Promise<string>;
  /** Raw `tgtadm --op show --mode target` output. */
  showTargets(): Promise<string>;
  /** Tears everything down by PID (tgtd: delete target --force, delete system, then SIGKILL). Idempotent. */
  stop(): Promise<void>;
}

function run(cmd: string, argv: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(cmd, argv, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${argv.join(' ')}: ${err.message.trim()} ${String(stderr).trim()}`));
      else resolvePromise(String(stdout));
    });
  });
}

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, abort: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const why = abort();
    if (why) throw new Error(`${what}: ${why}`);
    try {
      if (await check()) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`timeout waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let controlPortSeq = 0;
function pickControlPort(): number {
  for (let i = 0; i < 1000; i++) {
    // tgtd accepts -C 0..32767; stay clear of the low numbers other labs/daemons use.
    const port = 10000 + ((process.pid * 8 + controlPortSeq++) % 22000);
    if (!existsSync(`/var/run/tgtd/socket.${port}`)) return port;
  }
  throw new Error('no free tgtd control port');
}

/** The iPXE script the reference stack serves (per-client initiator name from the MAC). */
export function referenceScript(serverIp: string, iqn: string): string {
  return [
    '#!ipxe',
    `set initiator-iqn ${REFERENCE_INITIATOR_PREFIX}:\${mac:hexhyp}`,
    `echo DLS-REF sanboot ${serverIp} \${mac} \${net0/chip}`,
    `sanboot iscsi:${serverIp}:::1:${iqn} || goto failed`,
    ':failed',
    'echo DLS-SANBOOT-FAILED',
    'sleep 3600',
    '',
  ].join('\n');
}

/** The reference's kernel boot: kernel, the image's initrd, then the login fragment (named for an EFI-stub kernel). */
export function referenceLinuxScript(base: string, cmdline: string): string {
  return [
    '#!ipxe',
    `kernel ${base}/vmlinuz initrd=initrd.img initrd=login.cpio ${cmdline} || goto failed`,
    `initrd --name initrd.img ${base}/initrd.img || goto failed`,
    `initrd --name login.cpio ${base}/login.cpio || goto failed`,
    'boot || goto failed',
    ':failed',
    'echo DLS-SANBOOT-FAILED',
    'sleep 3600',
    '',
  ].join('\n');
}

/** Node one-liner serving one directory; logs `<method> <url> HTTP/<v>` and raw headers per request. */
const HTTP_SERVER_JS = `
const http = require('http'), fs = require('fs'), path = require('path');
const [dir, host, port] = process.argv.slice(1);
http.createServer((req, res) => {
  const line = req.method + ' ' + req.url + ' HTTP/' + req.httpVersion;
  console.log(JSON.stringify({ t: Date.now(), line, headers: req.rawHeaders }));
  const file = path.join(dir, path.basename(req.url.split('?')[0]));
  fs.readFile(file, (err, data) => {
    if (err) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': data.length });
    res.end(data);
  });
}).listen(Number(port), host, () => console.log('listening ' + host + ':' + port));
`;

/** Starts dnsmasq, the script HTTP server and tgtd inside `lab`'s namespace and waits until each is ready. */
/**
 * dnsmasq in the foreground on the lab bridge only: no DNS, no ping check, its own pid/lease files in `workDir`,
 * logging DHCP to stdout. Callers add ranges and options.
 */
export function dnsmasqBaseArgs(lab: Lab, workDir: string): string[] {
  return [
    'dnsmasq',
    '-k',
    '--conf-file=/dev/null',
    '--user=root',
    '--port=0',
    `--interface=${lab.bridge}`,
    '--bind-interfaces',
    '--except-interface=lo',
    `--pid-file=${join(workDir, 'dnsmasq.pid')}`,
    `--dhcp-leasefile=${join(workDir, 'dnsmasq.leases')}`,
    '--log-facility=-',
    '--log-dhcp',
    '--no-ping',
  ];
}

export async function startReferenceStack(lab: Lab, opts: ReferenceStackOptions): Promise<ReferenceStack> {
  const diskPath = resolve(opts.diskPath);
  if (!existsSync(diskPath)) throw new Error(`disk ${diskPath} does not exist`);
  const iqn = opts.iqn ?? REFERENCE_IQN;
  if (!IQN_PATTERN.test(iqn)) throw new Error(`bad IQN ${iqn}`);
  const macs = (opts.macs ?? []).map((m) => m.toLowerCase());
  for (const m of macs) if (!MAC_PATTERN.test(m)) throw new Error(`bad MAC ${m}`);
  if (macs.length > 99) throw new Error('at most 99 fixed MACs');
  const httpPort = opts.httpPort ?? 8080;
  const ownsWorkDir = !opts.workDir;
  const workDir = opts.workDir ?? mkdtempSync(join(tmpdir(), 'dls-ref-'));
  mkdirSync(workDir, { recursive: true });
  const wwwDir = join(workDir, 'www');
  const tftpDir = join(workDir, 'tftp');
  mkdirSync(wwwDir, { recursive: true });
  mkdirSync(tftpDir, { recursive: true });
  for (const f of ['undionly.kpxe', 'ipxe.efi']) {
    const src = join(IPXE_DIR, f);
    if (existsSync(src) && !existsSync(join(tftpDir, f))) symlinkSync(src, join(tftpDir, f));
  }
  const scriptUrl = `http://${lab.serverIp}:${httpPort}/boot.ipxe`;
  let script = referenceScript(lab.serverIp, iqn);
  if (opts.linux) {
    copyFileSync(opts.linux.kernel, join(wwwDir, 'vmlinuz'));
    copyFileSync(opts.linux.initrd, join(wwwDir, 'initrd.img'));
    writeFileSync(join(wwwDir, 'login.cpio'), opts.linux.loginFragment);
    script = referenceLinuxScript(`http://${lab.serverIp}:${httpPort}`, opts.linux.cmdline);
  }
  writeFileSync(join(wwwDir, 'boot.ipxe'), script);
  const logs = {
    dnsmasq: join(workDir, 'dnsmasq.log'),
    http: join(workDir, 'http.log'),
    tgtd: join(workDir, 'tgtd.log'),
  };
  const cp = pickControlPort();
  const procs: LabProcess[] = [];
  const dead = new Set<LabProcess>();
  const track = (p: LabProcess): void => {
    procs.push(p);
    void p.exited.then(() => dead.add(p));
  };
  let stopped = false;
  const tgtadm = (args: string[]): Promise<string> => run('tgtadm', ['-C', String(cp), '--lld', 'iscsi', ...args]);

  // tgtd leaves its control socket files behind; they are ours (unique control port). Also run on lab teardown so an
  // aborted run (SIGINT) leaves nothing behind.
  const removeFiles = (): void => {
    for (const f of [`/var/run/tgtd/socket.${cp}`, `/var/run/tgtd/socket.${cp}.lock`]) rmSync(f, { force: true });
    if (ownsWorkDir) rmSync(workDir, { recursive: true, force: true });
  };
  lab.onDestroy(removeFiles);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await tgtadm(['--op', 'delete', '--mode', 'target', '--tid', '1', '--force']).catch(() => undefined);
    await tgtadm(['--op', 'delete', '--mode', 'system']).catch(() => undefined);
    for (const p of procs) p.kill('SIGKILL');
    await Promise.race([Promise.all(procs.map((p) => p.exited)), new Promise((r) => setTimeout(r, 3000))]);
    removeFiles();
  };

  try {
    // --- dnsmasq: DHCP + RA + TFTP, no DNS -------------------------------------------------------------------
    const dnsmasqArgs = [
      ...dnsmasqBaseArgs(lab, workDir),
      '--dhcp-authoritative',
      macs.length ? `--dhcp-range=${lab.subnet}.100,static,255.255.255.0,1h` : `--dhcp-range=${lab.subnet}.100,${lab.subnet}.199,255.255.255.0,1h`,
      ...macs.map((m, i) => `--dhcp-host=${m},${lab.subnet}.${100 + i}`),
      ...(macs.length ? ['--dhcp-ignore=tag:!known'] : []),
      `--dhcp-option=option:router,${lab.serverIp}`,
      // iPXE: option 175 present or user-class "iPXE" → the HTTP script, and 175.176 = 1 (no-pxedhcp: skip the
      // ~2 s ProxyDHCP wait).
      '--dhcp-match=set:ipxe,175',
      '--dhcp-userclass=set:ipxe,iPXE',
      '--dhcp-option-force=tag:ipxe,encap:175,176,1b',
      `--dhcp-boot=tag:ipxe,${scriptUrl}`,
      // Plain PXE (no NIC ROM): option 93 (RFC 4578 §2.1) 7/9 = x64 UEFI → ipxe.efi, else undionly.kpxe.
      '--dhcp-match=set:efi64,option:client-arch,7',
      '--dhcp-match=set:efi64,option:client-arch,9',
      `--dhcp-boot=tag:!ipxe,tag:efi64,ipxe.efi,,${lab.serverIp}`,
      `--dhcp-boot=tag:!ipxe,tag:!efi64,undionly.kpxe,,${lab.serverIp}`,
      '--enable-tftp',
      `--tftp-root=${tftpDir}`,
    ];
    const ipv6Ra = opts.ipv6Ra ?? lab.ipv6Prefix !== undefined;
    if (ipv6Ra) {
      if (!lab.ipv6Prefix) throw new Error('ipv6Ra needs a lab with an IPv6 prefix');
      dnsmasqArgs.push('--enable-ra', `--dhcp-range=${lab.ipv6Prefix},ra-only`);
    }
    track(lab.spawn(dnsmasqArgs, { logFile: logs.dnsmasq }));
    // --- HTTP script server ---------------------------------------------------------------------------------
    track(
      lab.spawn([process.execPath, '-e', HTTP_SERVER_JS, wwwDir, lab.serverIp, String(httpPort)], {
        logFile: logs.http,
      }),
    );
    // --- tgtd -----------------------------------------------------------------------------------------------
    track(lab.spawn(['tgtd', '-f', '-C', String(cp), '--iscsi', `portal=${lab.serverIp}:3260`], { logFile: logs.tgtd }));

    // A process that dies during start-up (port in use, bad option) fails the start at once.
    const anyDead = (): string | undefined =>
      dead.size ? `a reference stack process exited early (${[...dead].map((p) => p.logFile).join(', ')})` : undefined;
    const logHas = (file: string, re: RegExp) => (): boolean => re.test(readFileSync(file, 'utf8'));
    await waitUntil('dnsmasq', logHas(logs.dnsmasq, /started, version/), READY_TIMEOUT_MS, anyDead);
    await waitUntil('http server', logHas(logs.http, /listening/), READY_TIMEOUT_MS, anyDead);
    const tgtdUp = async (): Promise<boolean> => (await tgtadm(['--op', 'show', '--mode', 'sys'])).includes('State');
    await waitUntil('tgtd', tgtdUp, READY_TIMEOUT_MS, anyDead);
    await tgtadm(['--op', 'new', '--mode', 'target', '--tid', '1', '-T', iqn]);
    await tgtadm([
      '--op',
      'new',
      '--mode',
      'logicalunit',
      '--tid',
      '1',
      '--lun',
      '1',
      '-b',
      diskPath,
      ...(opts.readOnly ? ['--params', 'readonly=1'] : []),
    ]);
    await tgtadm(['--op', 'bind', '--mode', 'target', '--tid', '1', '-I', 'ALL']);
  } catch (err) {
    const tails = Object.entries(logs)
      .map(([k, f]) => `--- ${k} ---\n${existsSync(f) ? readFileSync(f, 'utf8').slice(-1500) : ''}`)
      .join('\n');
    await stop();
    throw new Error(`${(err as Error).message}\n${tails}`, { cause: err });
  }

  return {
    scriptUrl,
    script,
    iqn,
    tgtControlPort: cp,
    workDir,
    logs,
    showConnections: () => tgtadm(['--op', 'show', '--mode', 'conn', '--tid', '1']),
    showTargets: () => tgtadm(['--op', 'show', '--mode', 'target']),
    stop,
  };
}
