/**
 * Helpers for the tgt integration tests: unique loopback ports / control ports, libiscsi and qemu-io runners that can
 * never hang (libiscsi retries a lost target forever, so everything runs under `timeout -s KILL`), and a session
 * holder that keeps one iSCSI login open.
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir, readlink } from 'node:fs/promises';
import { createServer } from 'node:net';

export const LOOPBACK = '127.0.0.1';

/** Resolves once `cond` returns a truthy value; rejects after `timeoutMs`. */
export async function waitFor<T>(cond: () => Promise<T> | T, timeoutMs = 10_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${last instanceof Error ? last.message : JSON.stringify(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, LOOPBACK, () => srv.close(() => resolve(true)));
  });
}

/** A free loopback TCP port ≥ 13260 derived from the pid (distinct per jest worker), probed before use. */
export async function pickPortalPort(salt: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 13260 + ((process.pid * 7 + salt * 101 + i) % 40000);
    if (await portIsFree(port)) return port;
  }
  throw new Error('no free port');
}

/** A tgtd control port whose socket file does not exist yet (no other tgtd uses it). */
export function pickControlPort(salt: number): number {
  for (let i = 0; i < 500; i++) {
    const cp = 20000 + ((process.pid * 13 + salt * 577 + i) % 12000); // tgtd accepts -C ≤ 32767
    if (!existsSync(`/var/run/tgtd/socket.${cp}`) && !existsSync(`/var/run/tgtd/socket.${cp}.lock`)) return cp;
  }
  throw new Error('no free control port');
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  output: string;
}

/** Runs a command under `timeout -s KILL <s>` and resolves with its exit code and output (never rejects). */
export function runKillable(cmd: string, args: string[], seconds = 20): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile('timeout', ['-s', 'KILL', String(seconds), cmd, ...args], { maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? null) : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout, stderr, output: `${stdout}\n${stderr}` });
    });
  });
}

/** Login parameters for one target. */
export interface Login {
  port: number;
  iqn: string;
  user: string;
  secret: string;
  initiator: string;
}

/** libiscsi URL with CHAP credentials, LUN 1 (LUN 0 is tgt's controller). */
export function iscsiUrl(l: Login, lun = 1): string {
  return `iscsi://${l.user}%${l.secret}@${LOOPBACK}:${l.port}/${l.iqn}/${lun}`;
}

/** Runs a libiscsi tool (`iscsi-inq`, `iscsi-readcapacity16`, …) with the initiator name. */
export function libiscsi(tool: string, l: Login, extra: string[] = []): Promise<RunResult> {
  return runKillable(tool, ['-i', l.initiator, ...extra, iscsiUrl(l)]);
}

function qemuImageOpts(l: Login): string {
  return [
    'driver=iscsi',
    'transport=tcp',
    `portal=${LOOPBACK}:${l.port}`,
    `target=${l.iqn}`,
    'lun=1',
    `user=${l.user}`,
    `password=${l.secret}`,
    `initiator-name=${l.initiator}`,
  ].join(',');
}

/** Runs qemu-io commands (`-c 'read -P 0x5a 0 4k'` …) against the LUN over iSCSI. */
export function qemuIo(l: Login, commands: string[]): Promise<RunResult> {
  return runKillable('qemu-io', [...commands.flatMap((c) => ['-c', c]), '--image-opts', qemuImageOpts(l)]);
}

/** An idle qemu-io that stays logged in until released (its own process group, killed as a whole). */
export class SessionHolder {
  private constructor(private readonly child: ChildProcess) {}

  static start(l: Login, maxSeconds = 60): SessionHolder {
    const child = spawn('timeout', ['-s', 'KILL', String(maxSeconds), 'qemu-io', '--image-opts', qemuImageOpts(l)], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    return new SessionHolder(child);
  }

  /** Kills the holder (timeout + qemu-io share the process group we created). */
  kill(): void {
    if (this.child.pid && this.child.exitCode === null && this.child.signalCode === null) {
      try {
        process.kill(-this.child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** Paths of the files a process holds open. */
export async function openFiles(pid: number): Promise<string[]> {
  const fds = await readdir(`/proc/${pid}/fd`);
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
  return targets.filter(Boolean);
}

/** PIDs of live tgtd processes started with `-C <cp>` (read-only scan of /proc). */
export async function tgtdPidsFor(controlPort: number): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmd = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const argv = cmd.split('\0');
    if (!argv[0]?.endsWith('tgtd')) continue;
    const i = argv.indexOf('-C');
    if (i < 0 || argv[i + 1] !== String(controlPort)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (/^\d+ \(.*\) Z/.test(stat)) continue; // a zombie is already dead
    pids.push(Number(entry));
  }
  return pids;
}
