/**
 * A real Debian Linux for boot tests, whose root filesystem lives on iSCSI: Debian's signed kernel, an initramfs made
 * by Debian's initramfs-tools with open-iscsi's hooks (iscsistart), and a small ext4 root disk — all built from
 * Debian packages and cached under a key made of the package versions and this recipe.
 *
 * Recipe (see buildInto):
 * 1. `debootstrap --variant=minbase bookworm` into a build chroot (~30 s, ~200 MiB; fetched from the mirror directly).
 * 2. The chroot gets bookworm + updates + security sources and the initramfs configuration (MODULES=list and a hook
 *    adding the NIC, SCSI disk and ext4 modules) BEFORE the kernel is installed, so the one initramfs the packages'
 *    triggers build is already ours.
 * 3. `apt-get install` of the pinned versions the host's apt would pick (the key): linux-image-amd64 (its kernel
 *    package is the Debian-signed one), initramfs-tools, open-iscsi, busybox-static.
 * 4. The root disk is NOT the chroot: a tree holding only the static busybox and `/sbin/init` (INIT_SCRIPT), made into
 *    a whole-disk ext4 image (no partition table) by `mke2fs -d` — no loop mount.
 *
 * The iSCSI login never rides in this image: open-iscsi's `local-top/iscsi` script reads `/etc/iscsi.initramfs` (a
 * shell-variable file) before `/proc/cmdline`, so the caller appends a second initrd holding only that file
 * (iscsiInitramfsFragment) — the kernel unpacks both archives into one rootfs.
 *
 * Cache: `$DLS_TEST_CACHE/linux-image/<key>` (default `/var/cache/dls-test/linux-image/<key>`). A build runs in a
 * private `.build-*` directory under a lock file and is published by one rename, so concurrent callers (jest workers,
 * two runs) never see half a build; a warm call is a few stat calls.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { encodeNewc } from '../../src/protocols/cpio/cpio-newc';

/** ext4 label of the root disk; the kernel command line says `root=LABEL=dls-root`. */
export const LINUX_ROOT_LABEL = 'dls-root';
/** `/sbin/init` prints this first: the device `/` is mounted from and `rw`/`ro`. */
export const LINUX_OK_MARKER = /DLS-LINUX-OK (\S+) (rw|ro)/;
/** ... then the counter it read from `/dls-counter`, incremented and wrote back. */
export const LINUX_COUNT_MARKER = /DLS-LINUX-COUNT (\d+)/;

/** Bump when anything below changes what a build produces and the texts that are hashed don't show it. */
const RECIPE_VERSION = 2;
const SUITE = 'bookworm';
const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
const DEFAULT_SECURITY_MIRROR = 'http://deb.debian.org/debian-security';
/** Installed at exactly the version the host's apt picks; these versions are the cache key. */
const PINNED_PACKAGES = ['linux-image-amd64', 'initramfs-tools', 'open-iscsi', 'busybox-static'];
/** Recorded in versions.txt too: what else ends up in the initramfs. */
const RECORDED_PACKAGES = [...PINNED_PACKAGES, 'initramfs-tools-core', 'klibc-utils', 'udev', 'kmod', 'libc6'];
const ROOT_DISK_SIZE = '64M';
const BUILD_TIMEOUT_MS = 20 * 60_000;
const LOCK_WAIT_MS = 30 * 60_000;
const LOCK_POLL_MS = 500;
/** A clean environment for debootstrap and the chroot (not the test runner's), keeping a proxy if the host has one. */
const CHROOT_ENV: NodeJS.ProcessEnv = {
  PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
  DEBIAN_FRONTEND: 'noninteractive',
  LC_ALL: 'C',
  HOME: '/root',
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(https?|no)_proxy$/i.test(k))),
};

/**
 * The root filesystem's init (busybox sh as PID 1, after initramfs-tools' run-init moved /dev, /proc, /sys and /run
 * over). Remounting read-only before the power-off leaves the ext4 clean for the next boot.
 */
const INIT_SCRIPT = `#!/bin/sh
# DLS test root: say where / came from, bump the counter on it, power off.
PATH=/bin:/sbin:/usr/bin:/usr/sbin
root_dev=unknown
root_mode=unknown
while read -r dev mnt fstype opts rest; do
  if [ "$mnt" = / ] && [ "$dev" != rootfs ]; then
    root_dev=$dev
    root_mode=\${opts%%,*}
  fi
done < /proc/mounts
echo "DLS-LINUX-OK $root_dev $root_mode"
n=0
[ -r /dls-counter ] && read -r n < /dls-counter
case "$n" in ''|*[!0-9]*) n=0 ;; esac
n=$((n + 1))
echo "$n" > /dls-counter
sync
echo "DLS-LINUX-COUNT $n"
mount -o remount,ro /
poweroff -f
`;

/** conf.d beats initramfs.conf (a conffile we leave alone). MODULES=list: only what the hooks add, not ~all drivers. */
const INITRAMFS_CONF = 'MODULES=list\nBUSYBOX=y\n';
/**
 * QEMU's NICs, the SCSI disk and the root filesystem. open-iscsi's own hook adds iscsi_tcp and friends; the NIC must be
 * here because configure_networking runs before the login and MODULES=list adds no drivers by itself.
 */
const INITRAMFS_MODULES = ['virtio_pci', 'virtio_net', 'e1000', 'e1000e', 'sd_mod', 'ext4', 'crc32c_generic'];
const INITRAMFS_HOOK = `#!/bin/sh
case "$1" in prereqs) exit 0 ;; esac
. /usr/share/initramfs-tools/hook-functions
for m in ${INITRAMFS_MODULES.join(' ')}; do manual_add_modules "$m"; done
`;
/** What the built initramfs must hold (paths as lsinitramfs prints them) — checked, so a recipe change can't drop it. */
const INITRAMFS_MUST_HAVE = [
  /^usr\/sbin\/iscsistart$/,
  /^scripts\/local-top\/iscsi$/,
  /\/iscsi_tcp\.ko$/,
  /\/virtio_net\.ko$/,
  /\/e1000\.ko$/,
  /\/sd_mod\.ko$/,
  /\/ext4\.ko$/,
];

export interface BuildLinuxImageOptions {
  /** Cache root; default `$DLS_TEST_CACHE/linux-image`, else `/var/cache/dls-test/linux-image`. */
  cacheDir?: string;
  mirror?: string;
  securityMirror?: string;
  /** Progress lines (the build takes about a minute). */
  log?: (line: string) => void;
}

export interface LinuxImage {
  /** Debian-signed vmlinuz (Authenticode-signed PE, checked at build). */
  kernel: string;
  /** initramfs-tools initramfs (gzip newc cpio, zero-padded to 4 bytes) with open-iscsi's scripts and no login data. */
  initrd: string;
  /** Raw whole-disk ext4 image (no partition table), label `rootLabel`; copy it before writing to it. */
  rootDisk: string;
  rootLabel: string;
  /** `<package> <version>` lines of what went in, and the recipe version. */
  versions: string;
}

interface Manifest {
  key: string;
  recipe: number;
  suite: string;
  kernelRelease: string;
  rootLabel: string;
  rootDiskLayout: 'whole-disk ext4';
  builtAt: string;
  buildSeconds: number;
}

const FILES = { kernel: 'vmlinuz', initrd: 'initrd.img', rootDisk: 'root.raw', versions: 'versions.txt', manifest: 'manifest.json' };
const inProcessBuilds = new Map<string, Promise<LinuxImage>>();

/** Builds the image, or returns the cached one for the same package versions and recipe. */
export async function buildLinuxImage(opts: BuildLinuxImageOptions = {}): Promise<LinuxImage> {
  const root = opts.cacheDir ?? join(process.env.DLS_TEST_CACHE ?? '/var/cache/dls-test', 'linux-image');
  mkdirSync(root, { recursive: true });
  const pins = await candidateVersions(root);
  const mirrors = { mirror: opts.mirror ?? DEFAULT_MIRROR, security: opts.securityMirror ?? DEFAULT_SECURITY_MIRROR };
  const key = recipeKey(pins, mirrors);
  const cached = readCached(join(root, key));
  if (cached) return cached;
  // One build per key per process; other processes wait on the lock file.
  let pending = inProcessBuilds.get(key);
  if (!pending) {
    pending = withLock(
      join(root, `.lock-${key}`),
      () => readCached(join(root, key)) ?? buildInto(root, key, pins, mirrors, opts.log ?? (() => undefined)),
    );
    inProcessBuilds.set(key, pending);
    void pending.finally(() => inProcessBuilds.delete(key)).catch(() => undefined);
  }
  return pending;
}

// --- the iSCSI login as an initrd fragment -------------------------------------------------------------------

/** What open-iscsi's local-top script needs to log in (variables of `/etc/iscsi.initramfs`). */
export interface IscsiLogin {
  /** ISCSI_INITIATOR; without it the script uses the image's own /etc/initiatorname.iscsi (random per build). */
  initiator: string;
  /** ISCSI_TARGET_NAME */
  targetName: string;
  /** ISCSI_TARGET_IP (the script loops over a space-separated list; one address here). */
  targetIp: string;
  /** ISCSI_TARGET_PORT; the script's default is 3260. */
  targetPort?: number;
  /** ISCSI_USERNAME / ISCSI_PASSWORD: CHAP, the initiator proves itself to the target (iscsistart -u/-w). */
  username?: string;
  password?: string;
  /** ISCSI_IN_USERNAME / ISCSI_IN_PASSWORD: mutual CHAP, the target proves itself (iscsistart -U/-W). */
  inUsername?: string;
  inPassword?: string;
}

/**
 * The text of `/etc/iscsi.initramfs`. The script sources it and then expands the values unquoted (`[ -z $X ]`,
 * iscsistart's argv), so a value with blanks, quotes or shell characters would break the login or worse: refused.
 */
export function iscsiInitramfsConfig(login: IscsiLogin): string {
  const vars: [string, string | number | undefined][] = [
    ['ISCSI_INITIATOR', login.initiator],
    ['ISCSI_TARGET_NAME', login.targetName],
    ['ISCSI_TARGET_IP', login.targetIp],
    ['ISCSI_TARGET_PORT', login.targetPort],
    ['ISCSI_USERNAME', login.username],
    ['ISCSI_PASSWORD', login.password],
    ['ISCSI_IN_USERNAME', login.inUsername],
    ['ISCSI_IN_PASSWORD', login.inPassword],
  ];
  return vars
    .filter((v): v is [string, string | number] => v[1] !== undefined)
    .map(([name, value]) => {
      const text = String(value);
      if (!/^[A-Za-z0-9.:_@%+=,/-]+$/.test(text)) throw new Error(`${name}: ${JSON.stringify(text)} is not safe in a sourced shell file`);
      return `${name}='${text}'\n`;
    })
    .join('');
}

/** A newc cpio holding only `etc/iscsi.initramfs` (0600, root), to be appended to the image's initrd. */
export function iscsiInitramfsFragment(login: IscsiLogin): Buffer {
  return encodeNewc([
    // The directory entry lets the fragment stand first or alone too; after the image's initramfs it is a no-op.
    { type: 'dir', path: 'etc', mode: 0o755 },
    { type: 'file', path: 'etc/iscsi.initramfs', mode: 0o600, data: iscsiInitramfsConfig(login) },
  ]);
}

/**
 * Concatenates initrds the way iPXE and GRUB hand several over: each one starts 4-byte aligned. The kernel looks for a
 * cpio header only at aligned offsets after a compressed archive; unaligned, it takes the fragment for another
 * compressed archive ("Initramfs unpacking failed: invalid magic at start of compressed archive") and silently boots
 * without it.
 */
export function concatInitrds(...parts: Buffer[]): Buffer {
  const out: Buffer[] = [];
  for (const part of parts) {
    out.push(part);
    const pad = (4 - (part.length % 4)) % 4;
    if (pad) out.push(Buffer.alloc(pad));
  }
  return Buffer.concat(out);
}

/**
 * The kernel command line: no secret. `ip=<client>::<gateway>:<netmask>:::off` is klibc ipconfig's static form; the
 * device field stays empty because udev renames eth0 (to ens2 etc.) before the initramfs configures the network.
 * `rw`: initramfs-tools mounts the root read-only unless told.
 */
export function linuxCmdline(net: { clientIp: string; netmask: string; gateway?: string }, extra: string[] = []): string {
  const ip = `ip=${net.clientIp}::${net.gateway ?? ''}:${net.netmask}:::off`;
  return ['console=ttyS0', `root=LABEL=${LINUX_ROOT_LABEL}`, 'rw', ip, ...extra].join(' ');
}

// --- cache key -----------------------------------------------------------------------------------------------

/**
 * The versions the host's apt would install (its lists are for the same suites as the chroot's). `apt-cache policy`
 * costs ~0.4 s, so its answer is remembered until the apt lists change (name, size, mtime of each file).
 */
async function candidateVersions(root: string): Promise<Record<string, string>> {
  assertBookworm();
  const fingerprint = aptListsFingerprint();
  const memoPath = join(root, 'apt-candidates.json');
  try {
    const memo = JSON.parse(readFileSync(memoPath, 'utf8')) as { fingerprint: string; versions: Record<string, string> };
    if (memo.fingerprint === fingerprint) return memo.versions;
  } catch {
    // no memo yet, or a torn one: ask apt
  }
  const out = await capture('apt-cache', ['policy', ...PINNED_PACKAGES]);
  const versions = parseCandidates(out);
  writeAtomically(memoPath, JSON.stringify({ fingerprint, versions }));
  return versions;
}

function assertBookworm(): void {
  const osRelease = readFileSync('/etc/os-release', 'utf8');
  if (!new RegExp(`^VERSION_CODENAME=${SUITE}$`, 'm').test(osRelease)) {
    throw new Error(`the Linux test image recipe is for Debian ${SUITE}; the host's apt (the cache key) is not`);
  }
}

function aptListsFingerprint(): string {
  const dir = '/var/lib/apt/lists';
  const entries = readdirSync(dir)
    .filter((f) => f.includes('_Packages') || f.endsWith('_InRelease'))
    .sort()
    .map((f) => {
      const s = statSync(join(dir, f));
      return `${f}:${s.size}:${s.mtimeMs}`;
    });
  return createHash('sha256').update(entries.join('\n')).digest('hex');
}

function parseCandidates(policy: string): Record<string, string> {
  const versions: Record<string, string> = {};
  let current: string | undefined;
  for (const line of policy.split('\n')) {
    const pkg = /^(\S+):$/.exec(line);
    if (pkg) current = pkg[1];
    const cand = /^\s+Candidate:\s+(\S+)/.exec(line);
    if (cand && current) versions[current] = cand[1];
  }
  for (const p of PINNED_PACKAGES) {
    if (!versions[p] || versions[p] === '(none)') throw new Error(`apt has no candidate for ${p}: run apt-get update`);
  }
  return versions;
}

/** Everything a build depends on, hashed: package versions, mirrors and the recipe's own texts. */
function recipeKey(pins: Record<string, string>, mirrors: { mirror: string; security: string }): string {
  const recipe = { RECIPE_VERSION, SUITE, mirrors, pins, INIT_SCRIPT, INITRAMFS_CONF, INITRAMFS_HOOK, ROOT_DISK_SIZE, LINUX_ROOT_LABEL };
  return `${SUITE}-${createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 16)}`;
}

function readCached(dir: string): LinuxImage | undefined {
  const paths = Object.fromEntries(Object.entries(FILES).map(([k, f]) => [k, join(dir, f)])) as typeof FILES;
  if (!Object.values(paths).every((p) => existsSync(p))) return undefined;
  return {
    kernel: paths.kernel,
    initrd: paths.initrd,
    rootDisk: paths.rootDisk,
    rootLabel: LINUX_ROOT_LABEL,
    versions: readFileSync(paths.versions, 'utf8'),
  };
}

// --- the build -----------------------------------------------------------------------------------------------

async function buildInto(
  root: string,
  key: string,
  pins: Record<string, string>,
  mirrors: { mirror: string; security: string },
  log: (line: string) => void,
): Promise<LinuxImage> {
  assertHostTools();
  await sweepAbandonedBuilds(root);
  const started = Date.now();
  // The pid in the name lets a later build remove what a killed one left (sweepAbandonedBuilds).
  const work = mkdtempSync(join(root, `.build-${key}-${process.pid}-`));
  const logPath = join(work, 'build.log');
  const run = (cmd: string, args: string[]): Promise<void> => runLogged(cmd, args, logPath);
  const chroot = join(work, 'chroot');
  try {
    log(`linux image ${key}: debootstrap ${SUITE} (minbase)`);
    await run('debootstrap', ['--variant=minbase', '--components=main', SUITE, chroot, mirrors.mirror]);
    configureChroot(chroot, mirrors);
    log(`linux image ${key}: apt-get install ${PINNED_PACKAGES.map((p) => `${p}=${pins[p]}`).join(' ')}`);
    await run('chroot', [chroot, 'apt-get', 'update', '-q']);
    await run('chroot', [chroot, 'apt-get', 'install', '-y', '-q', '--no-install-recommends', ...PINNED_PACKAGES.map((p) => `${p}=${pins[p]}`)]);
    const release = kernelRelease(chroot);
    await checkInitramfs(chroot, release);
    checkSignedKernel(join(chroot, 'boot', `vmlinuz-${release}`));
    const out = join(work, 'out');
    mkdirSync(out);
    log(`linux image ${key}: root disk (mke2fs -d)`);
    await makeRootDisk(chroot, join(work, 'root'), join(out, FILES.rootDisk), run);
    copyFileSync(join(chroot, 'boot', `vmlinuz-${release}`), join(out, FILES.kernel));
    writeFileSync(join(out, FILES.initrd), padTo4(readFileSync(join(chroot, 'boot', `initrd.img-${release}`))));
    writeFileSync(join(out, FILES.versions), await installedVersions(chroot, release));
    const manifest: Manifest = {
      key,
      recipe: RECIPE_VERSION,
      suite: SUITE,
      kernelRelease: release,
      rootLabel: LINUX_ROOT_LABEL,
      rootDiskLayout: 'whole-disk ext4',
      builtAt: new Date().toISOString(),
      buildSeconds: Math.round((Date.now() - started) / 100) / 10,
    };
    writeFileSync(join(out, FILES.manifest), `${JSON.stringify(manifest, null, 2)}\n`);
    publish(out, join(root, key));
    log(`linux image ${key}: built in ${manifest.buildSeconds} s`);
  } catch (err) {
    const kept = join(root, `failed-${key}.log`);
    if (existsSync(logPath)) copyFileSync(logPath, kept);
    throw new Error(`building the Linux test image failed (log: ${kept}): ${(err as Error).message}`, { cause: err });
  } finally {
    await removeTree(work);
  }
  const image = readCached(join(root, key));
  if (!image) throw new Error(`linux image ${key} vanished after publishing`);
  return image;
}

function assertHostTools(): void {
  if (process.getuid?.() !== 0) throw new Error('building the Linux test image needs root (debootstrap, chroot)');
  for (const tool of ['/usr/sbin/debootstrap', '/usr/sbin/mke2fs', '/usr/sbin/chroot']) {
    if (!existsSync(tool)) throw new Error(`${tool} missing: apt-get install --no-install-recommends debootstrap e2fsprogs`);
  }
}

/** Sources, no service starts, and the initramfs configuration — all before any package that builds an initramfs. */
function configureChroot(chroot: string, mirrors: { mirror: string; security: string }): void {
  writeFileSync(
    join(chroot, 'etc/apt/sources.list'),
    [`deb ${mirrors.mirror} ${SUITE} main`, `deb ${mirrors.mirror} ${SUITE}-updates main`, `deb ${mirrors.security} ${SUITE}-security main`, ''].join(
      '\n',
    ),
  );
  writeExecutable(join(chroot, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n');
  mkdirSync(join(chroot, 'etc/initramfs-tools/conf.d'), { recursive: true });
  mkdirSync(join(chroot, 'etc/initramfs-tools/hooks'), { recursive: true });
  writeFileSync(join(chroot, 'etc/initramfs-tools/conf.d/dls.conf'), INITRAMFS_CONF);
  writeExecutable(join(chroot, 'etc/initramfs-tools/hooks/dls-modules'), INITRAMFS_HOOK);
}

function kernelRelease(chroot: string): string {
  const kernels = readdirSync(join(chroot, 'boot')).filter((f) => f.startsWith('vmlinuz-'));
  if (kernels.length !== 1) throw new Error(`expected one kernel in the chroot, found ${kernels.join(', ') || 'none'}`);
  return kernels[0].slice('vmlinuz-'.length);
}

/** The login machinery is in, and no login data is: a credential in the image would be every client's. */
async function checkInitramfs(chroot: string, release: string): Promise<void> {
  const listing = (await capture('chroot', [chroot, 'lsinitramfs', `/boot/initrd.img-${release}`], CHROOT_ENV)).split('\n');
  for (const want of INITRAMFS_MUST_HAVE) {
    if (!listing.some((p) => want.test(p))) throw new Error(`the initramfs lacks ${want}`);
  }
  if (listing.includes('etc/iscsi.initramfs')) throw new Error('the initramfs holds etc/iscsi.initramfs (login data)');
}

/** linux-image-amd64 depends on the signed kernel package; this catches a recipe that ends up with the unsigned one. */
function checkSignedKernel(path: string): void {
  const pe = readFileSync(path);
  const at = pe.readUInt32LE(0x3c);
  if (pe.toString('latin1', at, at + 4) !== 'PE\0\0') throw new Error(`${basename(path)} is not a PE image`);
  const optional = at + 24;
  const dataDirs = optional + (pe.readUInt16LE(optional) === 0x20b ? 112 : 96);
  const [certOffset, certSize] = [pe.readUInt32LE(dataDirs + 4 * 8), pe.readUInt32LE(dataDirs + 4 * 8 + 4)];
  const certs = pe.subarray(certOffset, certOffset + certSize).toString('latin1');
  if (certSize === 0 || !certs.includes('Debian Secure Boot')) throw new Error(`${basename(path)} carries no Debian Secure Boot signature`);
}

/** Static busybox (no libc needed), its applet links, and our init; `mke2fs -d` copies the tree into the image. */
async function makeRootDisk(chroot: string, tree: string, disk: string, run: (cmd: string, args: string[]) => Promise<void>): Promise<void> {
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'dev', 'proc', 'sys', 'run', 'tmp', 'etc', 'root']) {
    mkdirSync(join(tree, d), { recursive: true });
  }
  copyFileSync(join(chroot, 'bin/busybox'), join(tree, 'bin/busybox'));
  chmodSync(join(tree, 'bin/busybox'), 0o755);
  await run('chroot', [tree, '/bin/busybox', '--install', '-s']);
  rmSync(join(tree, 'sbin/init'), { force: true }); // busybox's own init applet link
  writeExecutable(join(tree, 'sbin/init'), INIT_SCRIPT);
  await run('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', LINUX_ROOT_LABEL, '-E', 'root_owner=0:0', '-d', tree, disk, ROOT_DISK_SIZE]);
}

async function installedVersions(chroot: string, release: string): Promise<string> {
  const pkgs = [...RECORDED_PACKAGES, `linux-image-${release}`];
  const out = await capture('chroot', [chroot, 'dpkg-query', '-W', '-f', '${Package} ${Version}\\n', ...pkgs], CHROOT_ENV);
  return `recipe ${RECIPE_VERSION}\n${out}`;
}

/**
 * Zero padding to a multiple of 4 bytes: a loader that appends another initrd without aligning it (the EFI stub's
 * `initrd=` files may be laid end to end) still puts that archive where the kernel looks for one; the kernel skips the
 * zeros after a compressed archive.
 */
function padTo4(initrd: Buffer): Buffer {
  const pad = (4 - (initrd.length % 4)) % 4;
  return pad ? Buffer.concat([initrd, Buffer.alloc(pad)]) : initrd;
}

/** One rename makes the build visible; when another builder got there first, its result stands and ours goes. */
function publish(out: string, final: string): void {
  try {
    renameSync(out, final);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw err;
  }
}

// --- processes, lock, cleanup --------------------------------------------------------------------------------

/** Runs a build step with its output appended to the build log; rejects with the log's tail. */
function runLogged(cmd: string, args: string[], logPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fd = openSync(logPath, 'a');
    writeFileSync(fd, `\n$ ${cmd} ${args.join(' ')}\n`);
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: CHROOT_ENV });
    closeSync(fd);
    const timer = setTimeout(() => child.kill('SIGKILL'), BUILD_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve();
      const tail = readFileSync(logPath, 'utf8').slice(-2000);
      reject(new Error(`${cmd} ${args.slice(0, 3).join(' ')}… exited ${code ?? signal}\n${tail}`));
    });
  });
}

function capture(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message.trim()} ${String(stderr).trim()}`));
      else resolve(String(stdout));
    });
  });
}

/**
 * A lock file holding the builder's pid. A holder that died (no /proc entry) is taken over. Correctness never
 * depends on the lock — builds are private until their rename — it only saves a second build of the same key.
 */
async function withLock<T>(path: string, fn: () => Promise<T> | T): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (!lockHolderAlive(path)) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timeout waiting for ${path}`);
    await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true });
  }
}

function lockHolderAlive(path: string): boolean {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return false; // released meanwhile
  }
  // Empty: the holder created it and has not written its pid yet.
  return text === '' || existsSync(`/proc/${Number(text)}`);
}

/** `.build-<key>-<pid>-*` directories of builders that are gone (killed mid-build) take ~500 MiB each. */
async function sweepAbandonedBuilds(root: string): Promise<void> {
  for (const name of readdirSync(root)) {
    const m = /^\.build-.+-(\d+)-[^-]+$/.exec(name);
    if (m && Number(m[1]) !== process.pid && !existsSync(`/proc/${m[1]}`)) await removeTree(join(root, name));
  }
}

/**
 * Removes a build directory. debootstrap mounts /proc and /sys in the chroot while it runs; a killed build can leave
 * them mounted, and a recursive delete must never walk into a mount (a bind-mounted /dev would be the host's).
 */
async function removeTree(dir: string): Promise<void> {
  const mounts = mountPointsUnder(dir).sort((a, b) => b.length - a.length);
  for (const m of mounts) await capture('umount', ['-l', m]).catch(() => undefined);
  if (mountPointsUnder(dir).length > 0) throw new Error(`${dir} still has mounts; left in place`);
  await capture('rm', ['-rf', '--one-file-system', dir]);
}

function mountPointsUnder(dir: string): string[] {
  const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => unescape(line.split(' ')[4] ?? ''))
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
}

function writeExecutable(path: string, text: string): void {
  writeFileSync(path, text);
  chmodSync(path, 0o755);
}

function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  try {
    renameSync(tmp, path);
  } catch (err) {
    unlinkSync(tmp);
    throw err;
  }
}
