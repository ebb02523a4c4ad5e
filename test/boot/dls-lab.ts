/**
 * DLS itself as the boot server of a lab namespace (test/lab/netns.ts): the built server (`dist/src/main.js`) runs
 * INSIDE the namespace with its own embedded PostgreSQL, DHCP on the lab bridge, TFTP, the iPXE script endpoint and
 * its own tgtd. Its API is only reachable from inside the namespace, so every call goes through `curl` run with
 * `ip netns exec`. Shared by the PXE e2e spec, `npm run lab` and the boot benchmark.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Lab, LabProcess } from '../lab/netns';
import { removeFallbackClusterSync } from '../support/leftovers';

/** The repository root (works from the TypeScript sources and from dist/). */
export function repoRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src', 'main.ts'))) return dir;
    dir = dirname(dir);
  }
  throw new Error(`repository root not found above ${__dirname}`);
}

/**
 * Makes sure `dist/` is built from the current sources: `npm run build` (nest build, about a minute) unless
 * `dist/src/main.js` is newer than every file under `src/` and the build configuration. `npm test` builds first, so
 * in the suite this is a check; test files running side by side on several workers build one at a time (a lock file),
 * because `nest build` empties `dist/` before it writes.
 */
export async function buildDls(root = repoRoot()): Promise<void> {
  const lock = join(tmpdir(), `dls-build-${createHash('sha256').update(root).digest('hex').slice(0, 12)}.lock`);
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch {
      const owner = Number(readFileSync(lock, 'utf8') || '0');
      if (!owner || !processAlive(owner)) rmSync(lock, { force: true });
      else if (Date.now() > deadline) throw new Error(`timed out waiting for another build (pid ${owner})`);
      else await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    if (builtFromCurrentSources(root)) return;
    await promisify(execFile)('npm', ['run', 'build'], { cwd: root, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 }).catch(
      (err: Error & { stdout?: string; stderr?: string }) => {
        throw new Error(`npm run build failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`, { cause: err });
      },
    );
  } finally {
    rmSync(lock, { force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True when `dist/src/main.js` is newer than every source file and the build configuration. */
function builtFromCurrentSources(root: string): boolean {
  const main = join(root, 'dist', 'src', 'main.js');
  if (!existsSync(main) || !existsSync(join(root, 'dist', 'web', 'index.html'))) return false;
  const builtAt = statSync(main).mtimeMs;
  const newer = (p: string): boolean => {
    const st = statSync(p);
    if (st.isDirectory()) return readdirSync(p).some((e) => newer(join(p, e)));
    return st.mtimeMs > builtAt;
  };
  return !['src', 'web', 'package.json', 'tsconfig.json', 'tsconfig.build.json', 'nest-cli.json'].some((p) => newer(join(root, p)));
}

/** Polls `check` every `intervalMs` until it returns a truthy value; rejects after `timeoutMs` naming `what`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs: number, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface ApiResult<T = any> {
  status: number;
  body: T;
}

export interface DlsInLab {
  proc: LabProcess;
  dataDir: string;
  logFile: string;
  /** tgtd control port of this DLS (`tgtadm -C <n>`). */
  controlPort: number;
  httpPort: number;
  /** Bearer token of the bootstrap admin. */
  token: string;
  /** `curl` to the API from inside the namespace; JSON in, JSON (or text) out. */
  api<T = any>(method: string, path: string, body?: unknown): Promise<ApiResult<T>>;
  /** Like api() but throws unless the status is 2xx. */
  ok<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  /** `PUT /api/v1/images/:id/content?format=raw` with the file as an octet-stream body. */
  uploadRaw(imageId: string, file: string): Promise<ApiResult>;
  /** `PUT <path>` (under the API) with the file as an octet-stream body. */
  putFile(path: string, file: string): Promise<ApiResult>;
  /** Raw `tgtadm --op show --mode target` of DLS's tgtd. */
  showTargets(): Promise<string>;
  /** The last `n` characters of DLS's log. */
  logTail(n?: number): string;
  /** SIGTERM (DLS stops tgtd and PostgreSQL), wait, SIGKILL as a last resort. Idempotent. */
  stop(): Promise<void>;
  /**
   * `kill -9` of the DLS process alone (not its process group): its tgtd and embedded PostgreSQL keep running, as
   * after a crash or an OOM kill. Resolves once DLS has exited; stop() is then a no-op.
   */
  crash(): Promise<void>;
}

export interface StartDlsOptions {
  /** Where DLS keeps its data (created; removed by the caller). */
  dataDir: string;
  logFile: string;
  adminPassword?: string;
  /** PORT; unset = DLS's default 3000 (the lab's namespace has nothing else on it). */
  httpPort?: number;
  /** Extra environment (e.g. DLS_SESSION_GRACE); each with a comment saying why a user would set it too. */
  env?: Record<string, string>;
  /** Bound for start-up (embedded PostgreSQL initdb + migrations + tgtd). Default 120 s. */
  startTimeoutMs?: number;
  /**
   * DLS_TGTD_CONTROL_PORT; unset = a free one. A restart of the same install (same data dir) passes the port of the
   * earlier run: an install keeps its configuration across restarts, and the tgtd pid file only names a tgtd started
   * with this port.
   */
  controlPort?: number;
}

let controlPortSeq = 0;
/** A tgtd control port (10000–32767) whose socket does not exist yet. */
export function pickControlPort(): number {
  for (let i = 0; i < 1000; i++) {
    const port = 10000 + ((process.pid * 13 + 7919 * controlPortSeq++) % 22000);
    if (!existsSync(`/var/run/tgtd/socket.${port}`)) return port;
  }
  throw new Error('no free tgtd control port');
}

/** DLS's default PORT (src/config/config.loader.ts); the harness leaves it unset. */
const DLS_DEFAULT_HTTP_PORT = 3000;

/** A fixed PATH for the server (no environment of the test runner leaks into DLS). */
const SERVER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Starts DLS in `lab`'s namespace and logs in as admin. The namespace's teardown also removes tgtd's socket files. */
export async function startDlsInLab(lab: Lab, opts: StartDlsOptions): Promise<DlsInLab> {
  const root = repoRoot();
  const main = join(root, 'dist', 'src', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} missing: run npm run build first`);
  // As a user would: DLS makes its data dir reachable for the embedded PostgreSQL's user itself, or (under this
  // test's mode-0700 work dir) keeps the cluster in a fallback directory, which the teardown removes.
  lab.onDestroy(() => removeFallbackClusterSync(opts.dataDir));
  const controlPort = opts.controlPort ?? pickControlPort();
  const httpPort = opts.httpPort ?? DLS_DEFAULT_HTTP_PORT;
  const password = opts.adminPassword ?? `lab-admin-${process.pid}`;
  lab.onDestroy(() => {
    for (const f of [`/var/run/tgtd/socket.${controlPort}`, `/var/run/tgtd/socket.${controlPort}.lock`]) rmSync(f, { force: true });
  });
  // DLS runs with the README's defaults (HTTP on 0.0.0.0:3000, DHCP 67, TFTP 69, tgtd on 0.0.0.0:3260, no
  // DLS_BOOT_SERVER_IP: scripts name the address each client reached DLS on). Only what a user sets too is set here.
  const env: Record<string, string> = {
    // Not DLS configuration: a service manager starts DLS with a plain PATH too; nothing of the test runner leaks in.
    PATH: SERVER_PATH,
    // Every install picks where its state lives (the default ./data depends on the working directory).
    DLS_DATA_DIR: opts.dataDir,
    // A user sets the first admin password to log in without reading it from the log; the harness logs in with it.
    DLS_ADMIN_PASSWORD: password,
    // A host that already runs a tgtd (or several DLS) needs a control port of its own; tests run beside each other.
    DLS_TGTD_CONTROL_PORT: String(controlPort),
    ...(opts.httpPort !== undefined ? { PORT: String(opts.httpPort) } : {}),
    ...opts.env,
  };
  const proc = lab.spawn([process.execPath, main], { logFile: opts.logFile, env, cwd: root });
  let exited = false;
  void proc.exited.then(() => (exited = true));
  const logTail = (n = 3000): string => (existsSync(opts.logFile) ? readFileSync(opts.logFile, 'utf8').slice(-n) : '');

  const curl = async (args: string[], timeoutMs = 30_000): Promise<ApiResult> => {
    const { stdout } = await lab.exec(['curl', '-sS', '-m', String(Math.ceil(timeoutMs / 1000)), '-w', '\n%{http_code}', ...args], {
      timeoutMs: timeoutMs + 5000,
    });
    const i = stdout.lastIndexOf('\n');
    const text = stdout.slice(0, i);
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    return { status: Number(stdout.slice(i + 1)), body };
  };
  const base = `http://127.0.0.1:${httpPort}`;
  let token = '';
  const api = <T = any>(method: string, path: string, body?: unknown): Promise<ApiResult<T>> =>
    curl([
      '-X',
      method,
      ...(token ? ['-H', `Authorization: Bearer ${token}`] : []),
      ...(body !== undefined ? ['-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)] : []),
      `${base}${path}`,
    ]) as Promise<ApiResult<T>>;
  const ok = async <T = any>(method: string, path: string, body?: unknown): Promise<T> => {
    const r = await api<T>(method, path, body);
    if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };

  try {
    await waitFor(
      'DLS to answer /api/v1/health/ready',
      async () => {
        if (exited) throw new Error('DLS exited during start-up');
        return (await curl([`${base}/api/v1/health/ready`], 5000)).status === 200;
      },
      opts.startTimeoutMs ?? 120_000,
      500,
    );
    const login = await ok('POST', '/api/v1/auth/login', { username: 'admin', password });
    token = login.accessToken;
  } catch (err) {
    proc.kill('SIGTERM'); // no-op when it already died (its log says why)
    await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 15_000).unref())]);
    throw new Error(`${(err as Error).message}\n--- DLS log ---\n${logTail()}`, { cause: err });
  }

  const putFile = (path: string, file: string) =>
    curl(
      [
        '-X',
        'PUT',
        '-H',
        `Authorization: Bearer ${token}`,
        '-H',
        'Content-Type: application/octet-stream',
        '--data-binary',
        `@${resolve(file)}`,
        `${base}${path}`,
      ],
      120_000,
    );
  let stopping: Promise<void> | undefined;
  return {
    proc,
    dataDir: opts.dataDir,
    logFile: opts.logFile,
    controlPort,
    httpPort,
    get token() {
      return token;
    },
    api,
    ok,
    uploadRaw: (imageId, file) => putFile(`/api/v1/images/${imageId}/content?format=raw`, file),
    putFile,
    showTargets: () =>
      promisify(execFile)('tgtadm', ['-C', String(controlPort), '--lld', 'iscsi', '--op', 'show', '--mode', 'target'], { timeout: 10_000 }).then(
        ({ stdout }) => String(stdout),
      ),
    logTail,
    stop(): Promise<void> {
      stopping ??= (async () => {
        if (exited) return;
        try {
          process.kill(proc.pid, 'SIGTERM');
        } catch {
          return;
        }
        let timer: NodeJS.Timeout | undefined;
        const inTime = await Promise.race([
          proc.exited.then(() => true),
          new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 30_000))),
        ]).finally(() => clearTimeout(timer));
        if (!inTime) proc.kill('SIGKILL');
      })();
      return stopping;
    },
    async crash(): Promise<void> {
      if (exited) return;
      stopping ??= Promise.resolve();
      try {
        process.kill(proc.pid, 'SIGKILL'); // the pid of `ip netns exec`, which exec()s node: DLS itself
      } catch {
        return;
      }
      await proc.exited;
    },
  };
}

/** Creates an image, uploads `diskPath` as its raw content, snapshots and publishes it. */
export async function provisionImage(
  dls: DlsInLab,
  name: string,
  diskPath: string,
  sizeBytes: number,
): Promise<{ imageId: string; versionId: string }> {
  const image = await dls.ok('POST', '/api/v1/images', { name, sizeBytes, format: 'raw', path: `/lab/${name}.raw` });
  const up = await dls.uploadRaw(image.id, diskPath);
  if (up.status < 200 || up.status > 299) throw new Error(`upload → ${up.status} ${JSON.stringify(up.body)}`);
  const version = await dls.ok('POST', `/api/v1/images/${image.id}/snapshots`, { name: 'v1' });
  await dls.ok('POST', `/api/v1/images/${image.id}/snapshots/${version.id}/publish`);
  return { imageId: image.id, versionId: version.id };
}

/**
 * A `full`-mode network range over the whole lab bridge (pool .100–.199). Returns the created range once DLS serves
 * it (its DHCP log line): a range is picked up a moment after it is written, and until then the boot routes refuse
 * the network as "no boot network". `served: false` returns at once (the range's interface does not exist yet).
 */
export async function addLabRange(dls: DlsInLab, lab: Lab, name = 'lab', opts: { served?: boolean } = {}): Promise<{ id: string }> {
  const range = await dls.ok('POST', '/api/v1/network-ranges', {
    name,
    cidr: lab.cidr,
    interface: lab.bridge,
    dhcpMode: 'full',
    poolStart: `${lab.subnet}.100`,
    poolEnd: `${lab.subnet}.199`,
    leaseSeconds: 600,
  });
  if (opts.served === false) return range; // a test that adds the range before its interface exists
  const serving = new RegExp(`DHCP serving (.* )?${name}=[^ ]+/full@`);
  await waitFor(`DLS to serve range ${name}`, async () => serving.test(dls.logTail(200_000)), 60_000, 100);
  return range;
}

/** Registers a client for `mac` on `imageId`. */
export async function addClient(
  dls: DlsInLab,
  c: { mac: string; hostname: string; imageId: string; diskPolicy?: 'reset' | 'persistent' },
): Promise<{ id: string }> {
  return dls.ok('POST', '/api/v1/clients', {
    macAddress: c.mac,
    hostname: c.hostname,
    assignedImageId: c.imageId,
    ...(c.diskPolicy ? { diskPolicy: c.diskPolicy } : {}),
  });
}

/** The client's boot sessions, newest first. */
export async function sessionsOf(dls: DlsInLab, clientId: string): Promise<any[]> {
  const r = await dls.ok('GET', `/api/v1/boot-sessions?clientId=${clientId}&limit=50`);
  return Array.isArray(r) ? r : r.items;
}

/**
 * The real-Linux test image (test/lab/linux-image.ts) as an operator sets one up: its root disk uploaded and published
 * as an image, its kernel and initramfs copied into DLS's boot files root under `debian/` and named on the image,
 * with a command line that takes an address by DHCP and mounts the root read-write. `initrd` replaces the initramfs
 * bytes (a test that wants an odd-length one).
 */
export async function provisionLinuxImage(
  dls: DlsInLab,
  linux: { kernel: string; initrd: string; rootDisk: string; rootLabel: string },
  opts: { name?: string; initrd?: Buffer } = {},
): Promise<{ imageId: string; versionId: string }> {
  const ids = await provisionImage(dls, opts.name ?? 'debian-root', linux.rootDisk, statSync(linux.rootDisk).size);
  const files = join(dls.dataDir, 'tftp', 'debian');
  mkdirSync(files, { recursive: true });
  copyFileSync(linux.kernel, join(files, 'vmlinuz'));
  writeFileSync(join(files, 'initrd.img'), opts.initrd ?? readFileSync(linux.initrd));
  await dls.ok('PATCH', `/api/v1/images/${ids.imageId}`, {
    bootKernel: 'debian/vmlinuz',
    bootInitrd: 'debian/initrd.img',
    bootCmdline: `console=ttyS0 root=LABEL=${linux.rootLabel} rw ip=dhcp`,
  });
  return ids;
}
