/**
 * The built server (`dist/src/main.js`) as a plain child process on the host, for tests of how it starts and stops.
 * Its environment is only what the test passes (plus PATH): nothing of the runner's leaks in.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { waitFor } from '../support/zfs-fuse';

export interface DlsProcess {
  child: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
}

const SERVER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function spawnDls(main: string, opts: { cwd: string; env: Record<string, string> }): DlsProcess {
  const child = spawn(process.execPath, [main], { cwd: opts.cwd, env: { PATH: SERVER_PATH, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, exited, stdout: () => out, stderr: () => err };
}

/** Resolves with the exit, or rejects after `ms` (the process is then killed). */
export async function exitWithin(p: DlsProcess, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      p.child.kill('SIGKILL');
      reject(new Error(`DLS did not exit within ${ms} ms\n--- stderr ---\n${p.stderr().slice(-4000)}`));
    }, ms);
  });
  try {
    return await Promise.race([p.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A free TCP port on 127.0.0.1 (closed again; the caller binds it or hands it on). */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** True when `pid` is a live process (a zombie — exited, not yet reaped by its new parent — is not). */
export function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Lines of `text` that look like a JavaScript stack frame. */
export function stackFrames(text: string): string[] {
  return text.split('\n').filter((l) => /^\s+at .+(\(.*:\d+:\d+\)|:\d+:\d+)$/.test(l));
}

/** Waits until `dls` answers 200 on /health/ready at `port` (180 s); fails at once, with its output, if it exits. */
export async function waitUntilReady(dls: DlsProcess, port: number): Promise<void> {
  let exited = false;
  void dls.exited.then(() => (exited = true));
  await waitFor(
    async () => {
      if (exited) throw new Error(`DLS exited\n--- stderr ---\n${dls.stderr().slice(-3000)}\n--- stdout ---\n${dls.stdout().slice(-3000)}`);
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/health/ready`).catch(() => undefined);
      return r?.status === 200;
    },
    180_000,
    'DLS to be ready',
    250,
  );
}
