import { spawn } from 'node:child_process';

/** Outcome of one CLI invocation. A non-zero exit is data, not an exception. */
export interface CommandResult {
  /** Exit code, or null when the process died from a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when the runner killed the process group because `timeoutMs` elapsed. */
  timedOut: boolean;
}

export interface CommandOptions {
  timeoutMs: number;
  /** Called with each stdout chunk as it arrives (e.g. `qemu-img convert -p` progress). */
  onStdout?: (chunk: string) => void;
}

/**
 * Runs `file` with an argv array (never through a shell). Adapters take a runner so unit specs can swap in a fake.
 * Rejects only when the binary cannot be started at all (ENOENT, EACCES).
 */
export type CommandRunner = (file: string, args: readonly string[], options: CommandOptions) => Promise<CommandResult>;

const MAX_CAPTURE = 4 * 1024 * 1024;

/**
 * The production runner: `spawn` in its own process group so a timeout kills the command and anything it forked
 * (zfs-fuse CLI calls hang when the daemon is stuck; `zfs umount` forks `umount`).
 */
export const spawnCommand: CommandRunner = (file, args, options) =>
  new Promise<CommandResult>((resolve, reject) => {
    const child = spawn(file, [...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (stdout.length < MAX_CAPTURE) stdout += chunk;
      options.onStdout?.(chunk);
    });
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < MAX_CAPTURE) stderr += chunk;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, options.timeoutMs);
    timer.unref();
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });

/** First non-empty line of a CLI's stderr, trimmed and capped (usage texts can be pages long). */
export function firstLine(text: string, max = 300): string {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  return line.trim().slice(0, max);
}
